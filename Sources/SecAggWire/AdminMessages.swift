/// The admin channel's messages (protocol/ADMIN.md): `secagg admin` sends one ``AdminRequest`` at a time over a
/// Noise XX session with the daemon's admin listener and reads one ``AdminResponse``.
///
/// Envelope: `uint16 admin_version (= 2) ‖ uint8 type ‖ body`, canonical like the round messages: no optional
/// fields, no trailing bytes, every length bounded.

/// The admin protocol's version (independent of the round protocol's).
/// Version 2 added the enroll request's endorsement; types 0x10 and 0x11 (a shard's part of global rounds) and
/// 0x12–0x15 (a root's) were added within it, as new types that change no existing encoding (a daemon without them
/// answers `invalid`).
public let adminProtocolVersion: UInt16 = 2

/// Most bytes of a task definition (YAML or JSON) in ``AdminRequest/createTask(definition:)``.
public let maximumTaskDefinitionBytes = 65_535

/// Most bytes of an ``AdminResponse`` body (a released sum of a million entries as JSON fits).
public let maximumAdminResponseBytes = 64 << 20

/// What an operator asks the daemon.
public enum AdminRequest: Sendable, Hashable {
    /// Enroll a client public key (32 bytes) with a label (1...255 UTF-8 bytes) and, where an enrollment authority
    /// is configured, its endorsement (64 bytes; empty without). Type 0x01.
    case enroll(publicKey: [UInt8], label: String, endorsement: [UInt8] = [])
    /// Revoke a client public key. Type 0x02.
    case revoke(publicKey: [UInt8])
    /// Every client the store knows. Type 0x03.
    case listClients
    /// Create a task from its definition (the keys of one `tasks` entry of the configuration file). Type 0x04.
    case createTask(definition: String)
    /// Every task. Type 0x05.
    case listTasks
    /// One task's definition and state. Type 0x06.
    case showTask(name: String)
    /// Start a round of `task` now with the clients waiting (at least its minimum). Type 0x07.
    case startRound(task: String)
    /// The progress of `task`'s round in flight (or its latest round). Type 0x08.
    case watchRound(task: String)
    /// The latest rounds of `task` (every task if empty), newest first, at most `limit`. Type 0x09.
    case listRounds(task: String, limit: UInt32)
    /// A round's released result. Type 0x0A.
    case showResult(roundID: RoundID)
    /// A task's privacy ledger. Type 0x0B.
    case showBudget(task: String)
    /// Stop taking joins and starting rounds for `task` (a round in flight finishes). Type 0x0C.
    case pauseTask(task: String)
    /// Let a paused task take joins and run rounds again. Type 0x0D.
    case resumeTask(task: String)
    /// End `task` for good: it runs no more rounds, even after a restart. Type 0x0E.
    case retireTask(task: String)
    /// Replace an admin-created task's definition (same name) for the rounds that start afterwards. Type 0x0F.
    case updateTask(definition: String)
    /// Start a round of `task` for a root's global round (protocol/FEDERATION.md): as ``startRound(task:)``, and
    /// the round records `globalRound`, once per task. Type 0x10.
    case startGlobalRound(task: String, globalRound: GlobalRoundID)
    /// The shard's signed cohort release of `task`'s round of `globalRound` (FEDERATION.md §2). Type 0x11.
    case cohortRelease(task: String, globalRound: GlobalRoundID)
    /// To a root: start a global round of `task` on every shard now (FEDERATION.md §4). Type 0x12.
    case startGlobal(task: String)
    /// To a root: the latest global rounds of `task` (every task if empty), newest first, at most `limit`.
    /// Type 0x13.
    case listGlobalRounds(task: String, limit: UInt32)
    /// To a root: one global round with its cohorts, their signed releases and the combined result. Type 0x14.
    case showGlobalRound(globalRound: GlobalRoundID)
    /// To a root: its shards, whether each answers, and how many clients are placed on each. Type 0x15.
    case listShards
}

/// Phrases a daemon's answers to global-round requests contain when the answer means "not yet" (ADMIN.md §3): a
/// root asks again on these and gives up on any other refusal. One definition for the daemon that writes them and
/// the root that reads them, so a reworded sentence cannot silently turn a wait into an exclusion.
public enum GlobalRoundAnswer {
    /// In a `failed` startGlobalRound answer: fewer clients wait than the task's minimum.
    public static let tooFewClientsWaiting = "client(s) wait for task"
    /// In a `failed` cohortRelease answer: the round runs.
    public static let stillRunning = "is still running"
    /// In a `notFound` cohortRelease answer: no round of the task has been bound to the global round yet.
    public static let noRoundYet = "has no round for global round"
}

/// The daemon's answer: a status and a UTF-8 body — a JSON document (sorted keys) when ``Status/ok``, one
/// explanatory sentence otherwise.
public struct AdminResponse: Sendable, Hashable {
    public enum Status: UInt8, Sendable, Hashable {
        case ok = 0
        /// The request was understood but could not be carried out (e.g. too few clients for a round).
        case failed = 1
        /// The task, client or round named does not exist.
        case notFound = 2
        /// The request is malformed or its arguments invalid.
        case invalid = 3
        /// The connection's key is not an admin key: sent unasked right after the handshake, then the daemon
        /// closes the connection (ADMIN.md §1).
        case unauthorized = 4
    }

    public var status: Status
    public var body: String

    public init(status: Status, body: String) {
        self.status = status
        self.body = body
    }
}

extension AdminRequest: WireEncodable, WireDecodable {
    private var type: UInt8 {
        switch self {
        case .enroll: return 0x01
        case .revoke: return 0x02
        case .listClients: return 0x03
        case .createTask: return 0x04
        case .listTasks: return 0x05
        case .showTask: return 0x06
        case .startRound: return 0x07
        case .watchRound: return 0x08
        case .listRounds: return 0x09
        case .showResult: return 0x0A
        case .showBudget: return 0x0B
        case .pauseTask: return 0x0C
        case .resumeTask: return 0x0D
        case .retireTask: return 0x0E
        case .updateTask: return 0x0F
        case .startGlobalRound: return 0x10
        case .cohortRelease: return 0x11
        case .startGlobal: return 0x12
        case .listGlobalRounds: return 0x13
        case .showGlobalRound: return 0x14
        case .listShards: return 0x15
        }
    }

    public func encode(into writer: inout WireWriter) {
        writer.write(adminProtocolVersion)
        writer.write(type)
        switch self {
        case let .enroll(key, label, endorsement):
            writer.writeFixed(key)
            writer.writeOpaque(Array(label.utf8), prefixBytes: 1)
            writer.writeOpaque(endorsement, prefixBytes: 1)
        case let .revoke(key):
            writer.writeFixed(key)
        case .listClients, .listTasks, .listShards:
            break
        case let .createTask(definition), let .updateTask(definition):
            writer.writeOpaque(Array(definition.utf8), prefixBytes: 2)
        case let .showTask(name), let .startRound(name), let .watchRound(name), let .showBudget(name),
             let .pauseTask(name), let .resumeTask(name), let .retireTask(name), let .startGlobal(name):
            writer.writeOpaque(Array(name.utf8), prefixBytes: 1)
        case let .listRounds(task, limit), let .listGlobalRounds(task, limit):
            writer.writeOpaque(Array(task.utf8), prefixBytes: 1)
            writer.write(limit)
        case let .showResult(roundID):
            roundID.encode(into: &writer)
        case let .startGlobalRound(task, globalRound), let .cohortRelease(task, globalRound):
            writer.writeOpaque(Array(task.utf8), prefixBytes: 1)
            globalRound.encode(into: &writer)
        case let .showGlobalRound(globalRound):
            globalRound.encode(into: &writer)
        }
    }

    public init(from reader: inout WireReader) throws(WireError) {
        let version = try reader.readUInt16()
        guard version == adminProtocolVersion else { throw .unsupportedVersion(version) }
        let type = try reader.readUInt8()
        switch type {
        case 0x01:
            let key = try reader.readFixed(32)
            let label = try readText(&reader, prefixBytes: 1, maximum: 255, field: "label")
            guard !label.isEmpty else { throw .invalidValue(field: "label", reason: "empty") }
            let endorsement = try reader.readOpaque(prefixBytes: 1, maximum: 64, field: "endorsement")
            guard endorsement.isEmpty || endorsement.count == 64 else {
                throw .invalidValue(field: "endorsement", reason: "must be empty or 64 bytes")
            }
            self = .enroll(publicKey: key, label: label, endorsement: endorsement)
        case 0x02: self = .revoke(publicKey: try reader.readFixed(32))
        case 0x03: self = .listClients
        case 0x04:
            self = .createTask(definition: try readText(
                &reader, prefixBytes: 2, maximum: maximumTaskDefinitionBytes, field: "definition"))
        case 0x05: self = .listTasks
        case 0x06: self = .showTask(name: try readName(&reader))
        case 0x07: self = .startRound(task: try readName(&reader))
        case 0x08: self = .watchRound(task: try readName(&reader))
        case 0x09:
            let task = try readText(&reader, prefixBytes: 1, maximum: WireLimits.maximumTaskNameBytes, field: "task")
            self = .listRounds(task: task, limit: try reader.readUInt32())
        case 0x0A: self = .showResult(roundID: try RoundID(from: &reader))
        case 0x0B: self = .showBudget(task: try readName(&reader))
        case 0x0C: self = .pauseTask(task: try readName(&reader))
        case 0x0D: self = .resumeTask(task: try readName(&reader))
        case 0x0E: self = .retireTask(task: try readName(&reader))
        case 0x0F:
            self = .updateTask(definition: try readText(
                &reader, prefixBytes: 2, maximum: maximumTaskDefinitionBytes, field: "definition"))
        case 0x10: self = .startGlobalRound(task: try readName(&reader), globalRound: try GlobalRoundID(from: &reader))
        case 0x11: self = .cohortRelease(task: try readName(&reader), globalRound: try GlobalRoundID(from: &reader))
        case 0x12: self = .startGlobal(task: try readName(&reader))
        case 0x13:
            let task = try readText(&reader, prefixBytes: 1, maximum: WireLimits.maximumTaskNameBytes, field: "task")
            self = .listGlobalRounds(task: task, limit: try reader.readUInt32())
        case 0x14: self = .showGlobalRound(globalRound: try GlobalRoundID(from: &reader))
        case 0x15: self = .listShards
        default: throw .unknownMessageType(type)
        }
    }
}

extension AdminResponse: WireEncodable, WireDecodable {
    public func encode(into writer: inout WireWriter) {
        writer.write(adminProtocolVersion)
        writer.write(status.rawValue)
        writer.writeOpaque(Array(body.utf8), prefixBytes: 4)
    }

    public init(from reader: inout WireReader) throws(WireError) {
        let version = try reader.readUInt16()
        guard version == adminProtocolVersion else { throw .unsupportedVersion(version) }
        let code = try reader.readUInt8()
        guard let status = Status(rawValue: code) else {
            throw .invalidValue(field: "status", reason: "unknown status \(code)")
        }
        self.status = status
        body = try readText(&reader, prefixBytes: 4, maximum: maximumAdminResponseBytes, field: "body")
    }
}

private func readName(_ reader: inout WireReader) throws(WireError) -> String {
    let name = try readText(&reader, prefixBytes: 1, maximum: WireLimits.maximumTaskNameBytes, field: "task")
    guard !name.isEmpty else { throw .invalidValue(field: "task", reason: "empty") }
    return name
}

private func readText(_ reader: inout WireReader, prefixBytes: Int, maximum: Int, field: String) throws(WireError) -> String {
    let bytes = try reader.readOpaque(prefixBytes: prefixBytes, maximum: maximum, field: field)
    guard let text = String(validating: bytes, as: UTF8.self) else { throw .invalidValue(field: field, reason: "not UTF-8") }
    return text
}
