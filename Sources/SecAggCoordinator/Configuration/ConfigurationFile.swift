import Foundation
import SecAggCrypto
import SecAggIdentity
import SecAggPrivacy
import SecAggProtocol
import SecAggTransport
import SecAggWire
import Yams

/// The `secaggd` configuration file (YAML; `deploy/secaggd.example.yaml` documents every key).
///
/// Relative paths are resolved against the file's folder. Loading collects every problem it finds and reports them
/// all at once, each naming the key to fix.
public enum ConfigurationFile {
    struct Document: Decodable {
        struct Listen: Decodable {
            enum CodingKeys: String, CodingKey, CaseIterable { case host, port }
            var host: String?
            var port: Int?
        }

        struct Enrollment: Decodable {
            enum CodingKeys: String, CodingKey, CaseIterable { case file, keys, authority }
            var file: String?
            var keys: [String]?
            var authority: String?
        }

        struct Limits: Decodable {
            enum CodingKeys: String, CodingKey, CaseIterable {
                case maxConnections = "max_connections"
                case maxConnectionsPerAddress = "max_connections_per_address"
                case maxMessageBytes = "max_message_bytes"
                case handshakeTimeoutSeconds = "handshake_timeout_seconds"
                case idleTimeoutSeconds = "idle_timeout_seconds"
                case inboundBudgetBytes = "inbound_budget_bytes"
                case receiveGraceSeconds = "receive_grace_seconds"
                case minReceiveBytesPerSecond = "min_receive_bytes_per_second"
            }

            var maxConnections: Int?
            var maxConnectionsPerAddress: Int?
            var maxMessageBytes: Int?
            var handshakeTimeoutSeconds: Double?
            var idleTimeoutSeconds: Double?
            var inboundBudgetBytes: Int?
            var receiveGraceSeconds: Double?
            var minReceiveBytesPerSecond: Int?
        }

        struct Timeouts: Codable {
            enum CodingKeys: String, CodingKey, CaseIterable { case advertise, share, masked, consistency, unmask }
            var advertise: Double?
            var share: Double?
            var masked: Double?
            var consistency: Double?
            var unmask: Double?
        }

        struct Privacy: Codable {
            enum CodingKeys: String, CodingKey, CaseIterable {
                case noise, sigma, delta, clip
                case epsilonPerRound = "epsilon_per_round"
                case budgetEpsilon = "budget_epsilon"
            }

            var noise: String?
            var epsilonPerRound: Double?
            var sigma: Double?
            var delta: Double?
            /// The L2 sensitivity in integer units; derived (not given) with a real-vector encoder.
            var clip: Double?
            var budgetEpsilon: Double
        }

        /// How the task's clients encode real vectors (SPEC §5.11).
        struct Encoder: Codable {
            enum CodingKeys: String, CodingKey, CaseIterable {
                case kind, clip, granularity
                case rotationSeed = "rotation_seed"
            }

            var kind: String
            var clip: Double
            var granularity: Double
            var rotationSeed: String
        }

        struct Task: Codable {
            enum CodingKeys: String, CodingKey, CaseIterable {
                case name
                case dimension
                case bits
                case maxInput = "max_input"
                case graph
                case degree
                case threshold
                case minClients = "min_clients"
                case maxClients = "max_clients"
                case minSurvivors = "min_survivors"
                case mode
                case dropoutRate = "dropout_rate"
                case corruptRate = "corrupt_rate"
                case gatherSeconds = "gather_seconds"
                case start
                case maxWaiting = "max_waiting"
                case rounds
                case timeouts
                case privacy
                case encoder
            }

            var name: String
            var dimension: Int
            var bits: Int?
            /// Required, except with an encoder (which fixes it).
            var maxInput: UInt64?
            var graph: String?
            var degree: Int?
            var threshold: Int?
            var minClients: Int
            var maxClients: Int
            var minSurvivors: Int?
            var mode: String?
            var dropoutRate: Double?
            var corruptRate: Double?
            var gatherSeconds: Double?
            /// automatic (the default) or on_request.
            var start: String?
            var maxWaiting: Int?
            var rounds: Int?
            var timeouts: Timeouts?
            var privacy: Privacy?
            var encoder: Encoder?
        }

        struct Store: Decodable {
            enum CodingKeys: String, CodingKey, CaseIterable { case path }
            var path: String?
        }

        struct Admin: Decodable {
            enum CodingKeys: String, CodingKey, CaseIterable { case host, port, keys }
            var host: String?
            var port: Int?
            var keys: [String]?
        }

        enum CodingKeys: String, CodingKey, CaseIterable {
            case listen, identity, enrollment, tasks, limits, store, admin
            case resultsDirectory = "results_directory"
        }

        var store: Store?
        var admin: Admin?

        var listen: Listen?
        var identity: String
        var enrollment: Enrollment?
        var resultsDirectory: String?
        var limits: Limits?
        /// Absent or empty only with an admin listener: tasks then come from `secagg admin task create` or a root.
        var tasks: [Task]?
    }

    /// Reads and validates the file at `path`.
    ///
    /// - Throws: ``CoordinatorConfigurationError`` listing every problem (unreadable file, YAML syntax, unknown
    ///   values, invalid tasks, unreadable identity or enrollment list).
    public static func load(from path: String) throws -> CoordinatorSettings {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw CoordinatorConfigurationError(problems: ["cannot read the configuration file \(path)"])
        }
        let folder = URL(fileURLWithPath: path).deletingLastPathComponent()
        return try parse(text, relativeTo: folder)
    }

    /// Parses configuration text; relative paths resolve against `folder`.
    ///
    /// - Throws: ``CoordinatorConfigurationError``.
    public static func parse(_ text: String, relativeTo folder: URL) throws -> CoordinatorSettings {
        try parse(text, relativeTo: folder, checkingKeys: true)
    }

    /// `checkingKeys: false` when the caller has already checked the keys of the text it derived this one from
    /// (``DaemonConfiguration`` checks the file as written, so the problems name the file's own lines).
    ///
    /// - Parameter node: the document already parsed (and changed by environment overrides), whose nodes keep the
    ///   file's lines for the problems to name; nil to parse `text`.
    static func parse(
        _ text: String, relativeTo folder: URL, checkingKeys: Bool, node: Node? = nil
    ) throws -> CoordinatorSettings {
        if checkingKeys {
            let unknown = ConfigurationSchema.file.unknownKeys(inYAML: text)
            guard unknown.isEmpty else { throw CoordinatorConfigurationError(problems: unknown) }
        }
        let document = try node.map { node throws(CoordinatorConfigurationError) in
            try ConfigurationDecoding.decode(Document.self, from: node)
        } ?? ConfigurationDecoding.decode(Document.self, from: text)
        var problems: [String] = []
        func resolve(_ file: String) -> String {
            file.hasPrefix("/") ? file : folder.appendingPathComponent(file).path
        }

        var identity: Ed25519.SigningKey?
        do {
            identity = try IdentityFile.load(from: resolve(document.identity))
        } catch {
            problems.append("identity: \(error)")
        }

        var enrolled: [Ed25519.VerifyingKey: String] = [:]
        var endorsements: [Ed25519.VerifyingKey: [UInt8]] = [:]
        var authority: Ed25519.VerifyingKey?
        if let text = document.enrollment?.authority {
            do {
                authority = try IdentityFile.publicKey(fromHex: text)
            } catch {
                problems.append("enrollment.authority: \(error) (the public key `secagg keygen` printed for the authority)")
            }
        }
        // An entry is a public key, then optionally `endorsement=<128 hex digits>` and a label (the rest of the line).
        var enrollmentLines: [(origin: String, fields: [String])] = (document.enrollment?.keys ?? []).enumerated().map {
            ("inline-\($0.offset + 1)", $0.element.split(whereSeparator: \.isWhitespace).map(String.init))
        }
        if let file = document.enrollment?.file {
            if let data = FileManager.default.contents(atPath: resolve(file)), let text = String(data: data, encoding: .utf8) {
                for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                    let content = line.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
                    let fields = content.split(whereSeparator: \.isWhitespace).map(String.init)
                    if !fields.isEmpty { enrollmentLines.append(("\(file):\(number + 1)", fields)) }
                }
            } else {
                problems.append("enrollment.file: cannot read \(resolve(file))")
            }
        }
        for (origin, fields) in enrollmentLines {
            guard let text = fields.first else { continue }
            let endorsementPrefix = "endorsement="
            let endorsementTexts = fields.dropFirst().filter { $0.hasPrefix(endorsementPrefix) }
            let labelFields = fields.dropFirst().filter { !$0.hasPrefix(endorsementPrefix) }
            let label = labelFields.isEmpty ? origin : labelFields.joined(separator: " ")
            let key: Ed25519.VerifyingKey
            do {
                key = try IdentityFile.publicKey(fromHex: text)
            } catch {
                problems.append("enrollment (\(label)): \(error)")
                continue
            }
            enrolled[key] = label
            guard let endorsementText = endorsementTexts.first else {
                if authority != nil {
                    problems.append("enrollment (\(label)): no endorsement=… although enrollment.authority is set (`secagg key endorse`)")
                }
                continue
            }
            guard endorsementTexts.count == 1, let endorsement = bytes(fromHex: String(endorsementText.dropFirst(endorsementPrefix.count))),
                  endorsement.count == 64 else {
                problems.append("enrollment (\(label)): endorsement= must appear once, with 128 hex digits")
                continue
            }
            guard let authority else {
                // Relaying endorsements nobody configured the coordinator to check would be a silently ignored setting.
                problems.append("enrollment (\(label)): an endorsement is given but enrollment.authority is not set")
                continue
            }
            guard Endorsement.isValid(endorsement, of: key.rawRepresentation, by: authority) else {
                problems.append("enrollment (\(label)): the endorsement is not the enrollment authority's signature of this key")
                continue
            }
            endorsements[key] = endorsement
        }
        // No keys here is fine: enrollment may live only in the store (`secagg admin enroll`); the daemon says at
        // start when the store holds no client either.

        var limits = TransportLimits()
        if let value = document.limits?.maxMessageBytes {
            if value >= 1024 { limits.maximumMessageBytes = value } else { problems.append("limits.max_message_bytes must be at least 1024") }
        }
        if let value = document.limits?.handshakeTimeoutSeconds {
            if value > 0 { limits.handshakeTimeout = .milliseconds(Int64(value * 1000)) } else { problems.append("limits.handshake_timeout_seconds must be positive") }
        }
        if let value = document.limits?.idleTimeoutSeconds {
            if value > 0 { limits.idleTimeout = .milliseconds(Int64(value * 1000)) } else { problems.append("limits.idle_timeout_seconds must be positive") }
        }
        if let value = document.limits?.receiveGraceSeconds {
            if value > 0 { limits.receiveGrace = .milliseconds(Int64(value * 1000)) } else { problems.append("limits.receive_grace_seconds must be positive") }
        }
        if let value = document.limits?.minReceiveBytesPerSecond {
            if value >= 1 { limits.minimumReceiveRate = value } else { problems.append("limits.min_receive_bytes_per_second must be at least 1") }
        }
        let maximumConnections = document.limits?.maxConnections ?? 4096
        let inboundBudget = document.limits?.inboundBudgetBytes ?? 16 << 20
        if inboundBudget < 1 << 16 { problems.append("limits.inbound_budget_bytes must be at least 65536") }
        if maximumConnections < 1 { problems.append("limits.max_connections must be at least 1") }
        let perAddress = document.limits?.maxConnectionsPerAddress ?? 1024
        if perAddress < 1 { problems.append("limits.max_connections_per_address must be at least 1") }

        var tasks: [TaskConfiguration] = []
        let entries = document.tasks ?? []
        for (position, entry) in entries.enumerated() {
            if let task = task(from: entry, prefix: "tasks[\(position)] (\(entry.name))", problems: &problems) {
                tasks.append(task)
            }
        }
        if entries.isEmpty, document.admin == nil {
            problems.append("tasks: at least one task is needed (or an admin section, to create tasks with `secagg admin task create` or from a root)")
        }
        var positions: [String: [Int]] = [:]
        for (position, entry) in entries.enumerated() { positions[entry.name, default: []].append(position) }
        for (name, at) in positions.sorted(by: { $0.key < $1.key }) where at.count > 1 {
            problems.append("tasks: the name '\(name)' is used by \(at.map { "tasks[\($0)]" }.joined(separator: " and ")); "
                + "task names must be unique")
        }

        let port = document.listen?.port ?? 7461
        if !(0...65535).contains(port) { problems.append("listen.port must be 0...65535 (0 picks a free port)") }
        let storePath = resolve(document.store?.path ?? "secaggd.sqlite")
        var isFolder: ObjCBool = false
        let storeFolder = URL(fileURLWithPath: storePath).deletingLastPathComponent().path
        if !FileManager.default.fileExists(atPath: storeFolder, isDirectory: &isFolder) || !isFolder.boolValue {
            problems.append("store.path: the folder \(storeFolder) does not exist (create it, or point store.path elsewhere)")
        } else if FileManager.default.fileExists(atPath: storePath, isDirectory: &isFolder), isFolder.boolValue {
            problems.append("store.path: \(storePath) is a folder; it must name the database file")
        }
        let admin = adminSettings(document.admin, problems: &problems)

        guard problems.isEmpty, let identity else { throw CoordinatorConfigurationError(problems: problems) }
        var settings = CoordinatorSettings(
            host: document.listen?.host ?? "127.0.0.1", port: port, identity: identity,
            enrolled: enrolled, tasks: tasks, limits: limits, maximumConnections: maximumConnections,
            maximumConnectionsPerAddress: perAddress, resultsDirectory: document.resultsDirectory.map { URL(fileURLWithPath: resolve($0), isDirectory: true) },
            inboundBudgetBytes: inboundBudget)
        settings.storePath = storePath
        settings.admin = admin
        settings.enrollmentAuthority = authority
        settings.endorsements = endorsements
        return settings
    }


    /// The admin listener of the `admin` key: off unless admin keys are listed; bound to 127.0.0.1:7462 by default.
    private static func adminSettings(_ admin: Document.Admin?, problems: inout [String]) -> AdminSettings? {
        guard let admin else { return nil }
        return AdminSettings.validated(host: admin.host, port: admin.port, keys: admin.keys, defaultPort: 7462, problems: &problems)
    }

    /// Parses one task definition (the keys of an entry of `tasks`, as YAML or JSON) for `secagg admin task create`.
    ///
    /// - Throws: ``CoordinatorConfigurationError`` listing every problem.
    static func parseTask(_ text: String) throws -> (TaskConfiguration, Document.Task) {
        let unknown = ConfigurationSchema.task.unknownKeys(inYAML: text)
        guard unknown.isEmpty else { throw CoordinatorConfigurationError(problems: unknown) }
        let entry = try ConfigurationDecoding.decode(Document.Task.self, from: text)
        var problems: [String] = []
        let task = task(from: entry, prefix: "task '\(entry.name)'", problems: &problems)
        guard problems.isEmpty, let task else { throw CoordinatorConfigurationError(problems: problems) }
        return (task, entry)
    }

    /// Parses and validates one task definition exactly as `createTask` does: what a root defines once and every
    /// shard runs (protocol/FEDERATION.md).
    ///
    /// - Throws: ``CoordinatorConfigurationError`` listing every problem.
    public static func task(definition text: String) throws -> TaskConfiguration {
        try parseTask(text).0
    }

    /// The configuration-file form of a task (what `secagg admin task show` prints and the store keeps).
    static func definition(of task: TaskConfiguration) -> Document.Task {
        func seconds(_ duration: Duration) -> Double { duration.seconds }
        var graph = "auto"
        var degree: Int?
        switch task.graph {
        case .automatic: graph = "auto"
        case .complete: graph = "complete"
        case let .harary(value):
            graph = "harary"
            degree = value
        }
        return Document.Task(
            name: task.name, dimension: task.encoder?.dimension ?? task.dimension, bits: task.bits,
            maxInput: task.encoder == nil ? task.maximumInput : nil, graph: graph,
            degree: degree, threshold: task.threshold, minClients: task.minimumClients, maxClients: task.maximumClients,
            minSurvivors: task.minimumSurvivors, mode: task.mode == .active ? "active" : "honest",
            dropoutRate: task.dropoutRate, corruptRate: task.corruptRate, gatherSeconds: seconds(task.gatherWindow),
            start: task.startsOnRequest ? "on_request" : nil, maxWaiting: task.maximumWaiting, rounds: task.rounds,
            timeouts: Document.Timeouts(
                advertise: seconds(task.timeouts.advertiseKeys), share: seconds(task.timeouts.shareKeys),
                masked: seconds(task.timeouts.maskedInputCollection),
                consistency: seconds(task.timeouts.consistencyCheck), unmask: seconds(task.timeouts.unmasking)),
            privacy: task.privacy.map { privacy in
                Document.Privacy(
                    noise: privacy.placement == .central ? "central" : "distributed",
                    epsilonPerRound: privacy.epsilonPerRound, sigma: privacy.sigma, delta: privacy.delta,
                    clip: task.encoder == nil ? privacy.l2Sensitivity : nil, budgetEpsilon: privacy.budgetEpsilon)
            },
            encoder: task.encoder.map { encoder in
                Document.Encoder(
                    kind: "real", clip: encoder.clip, granularity: encoder.granularity,
                    rotationSeed: hexString(encoder.rotationSeed))
            })
    }

    /// A task definition as canonical JSON (sorted keys).
    static func json(_ definition: Document.Task) -> String {
        CoordinatorStore.json(definition)
    }

    /// The task an entry of `tasks` describes; nil (with the problems appended) if it cannot be built. Problems
    /// found by ``TaskConfiguration/problems()`` are appended but the task is still returned.
    static func task(from entry: Document.Task, prefix: String, problems: inout [String]) -> TaskConfiguration? {
        let graph: TaskConfiguration.Graph
        switch entry.graph ?? "auto" {
        case "auto": graph = .automatic
        case "complete": graph = .complete
        case "harary":
            guard let degree = entry.degree else {
                problems.append("\(prefix): graph harary needs a degree")
                return nil
            }
            graph = .harary(degree: degree)
        case let other:
            problems.append("\(prefix): graph must be auto, complete or harary, not '\(other)'")
            return nil
        }
        let mode: RoundMode
        switch entry.mode ?? "honest" {
        case "honest": mode = .honestButCurious
        case "active": mode = .active
        case let other:
            problems.append("\(prefix): mode must be honest or active, not '\(other)'")
            return nil
        }
        var timeouts = PhaseTimeouts()
        func seconds(_ value: Double?, _ key: String, _ apply: (Duration) -> Void) {
            guard let value else { return }
            if value > 0 { apply(.milliseconds(Int64(value * 1000))) } else { problems.append("\(prefix): timeouts.\(key) must be positive") }
        }
        seconds(entry.timeouts?.advertise, "advertise") { timeouts.advertiseKeys = $0 }
        seconds(entry.timeouts?.share, "share") { timeouts.shareKeys = $0 }
        seconds(entry.timeouts?.masked, "masked") { timeouts.maskedInputCollection = $0 }
        seconds(entry.timeouts?.consistency, "consistency") { timeouts.consistencyCheck = $0 }
        seconds(entry.timeouts?.unmask, "unmask") { timeouts.unmasking = $0 }
        // A real-vector encoder fixes the wire dimension (D), the maximum input (2B) and the L2 sensitivity (Δ₂).
        var dimension = entry.dimension
        var maximumInput = entry.maxInput
        var sensitivity = entry.privacy?.clip
        var encoding: RealVectorEncoding?
        if let declared = entry.encoder {
            guard declared.kind == "real" else {
                problems.append("\(prefix): encoder.kind must be real, not '\(declared.kind)'")
                return nil
            }
            guard let seed = bytes(fromHex: declared.rotationSeed), seed.count == 32 else {
                problems.append("\(prefix): encoder.rotation_seed must be 64 hex digits (32 public random bytes)")
                return nil
            }
            let candidate = RealVectorEncoding(
                dimension: entry.dimension, clip: declared.clip, granularity: declared.granularity, rotationSeed: seed)
            let encoder: FloatVectorEncoder
            do {
                encoder = try candidate.encoder(bits: entry.bits ?? 32)
            } catch {
                problems.append("\(prefix): encoder: \(error)")
                return nil
            }
            let derived = 2 * candidate.shift(of: encoder)
            if let given = entry.maxInput, given != derived {
                problems.append("\(prefix): max_input is fixed by the encoder (2B = \(derived)); remove it")
            }
            if entry.privacy?.clip != nil {
                problems.append("\(prefix): privacy.clip is fixed by the encoder (its L2 bound Δ₂ = "
                    + "\(encoder.l2SensitivityBound) integer units); remove it")
            }
            dimension = encoder.encodedDimension
            maximumInput = derived
            sensitivity = encoder.l2SensitivityBound
            encoding = candidate
        }
        guard let maximumInput else {
            problems.append("\(prefix): max_input is required (or an encoder that fixes it)")
            return nil
        }
        var privacy: TaskPrivacy?
        if let entry = entry.privacy {
            guard let sensitivity else {
                problems.append("\(prefix): privacy.clip (the L2 sensitivity) is required without an encoder")
                return nil
            }
            switch entry.noise ?? "distributed" {
            case "distributed", "central":
                privacy = TaskPrivacy(
                    placement: entry.noise == "central" ? .central : .distributed,
                    epsilonPerRound: entry.epsilonPerRound, sigma: entry.sigma, delta: entry.delta ?? 1e-6,
                    l2Sensitivity: sensitivity, budgetEpsilon: entry.budgetEpsilon)
            case let other:
                problems.append("\(prefix): privacy.noise must be distributed or central, not '\(other)'")
                return nil
            }
        }
        let task = TaskConfiguration(
            name: entry.name, dimension: dimension, bits: entry.bits ?? 32, maximumInput: maximumInput,
            graph: graph, threshold: entry.threshold, minimumClients: entry.minClients,
            maximumClients: entry.maxClients, minimumSurvivors: entry.minSurvivors, mode: mode,
            dropoutRate: entry.dropoutRate ?? 0.1, corruptRate: entry.corruptRate ?? 0.05, timeouts: timeouts,
            gatherWindow: .milliseconds(Int64((entry.gatherSeconds ?? 2) * 1000)), rounds: entry.rounds,
            privacy: privacy, maximumWaiting: entry.maxWaiting, encoder: encoding)
        var configured = task
        switch entry.start ?? "automatic" {
        case "automatic": break
        case "on_request": configured.startsOnRequest = true
        case let other:
            problems.append("\(prefix): start must be automatic or on_request, not '\(other)'")
            return nil
        }
        problems += configured.problems()
        return configured
    }
}

extension ConfigurationFile.Document.Task {
    /// Decodes a task; `max_input` is required unless an encoder fixes it (so a task without one reports the missing
    /// key with the other decoding problems, at once).
    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        name = try container.decode(String.self, forKey: .name)
        dimension = try container.decode(Int.self, forKey: .dimension)
        bits = try container.decodeIfPresent(Int.self, forKey: .bits)
        encoder = try container.decodeIfPresent(ConfigurationFile.Document.Encoder.self, forKey: .encoder)
        maxInput = container.contains(.encoder)
            ? try container.decodeIfPresent(UInt64.self, forKey: .maxInput)
            : try container.decode(UInt64.self, forKey: .maxInput)
        graph = try container.decodeIfPresent(String.self, forKey: .graph)
        degree = try container.decodeIfPresent(Int.self, forKey: .degree)
        threshold = try container.decodeIfPresent(Int.self, forKey: .threshold)
        minClients = try container.decode(Int.self, forKey: .minClients)
        maxClients = try container.decode(Int.self, forKey: .maxClients)
        minSurvivors = try container.decodeIfPresent(Int.self, forKey: .minSurvivors)
        mode = try container.decodeIfPresent(String.self, forKey: .mode)
        dropoutRate = try container.decodeIfPresent(Double.self, forKey: .dropoutRate)
        corruptRate = try container.decodeIfPresent(Double.self, forKey: .corruptRate)
        gatherSeconds = try container.decodeIfPresent(Double.self, forKey: .gatherSeconds)
        start = try container.decodeIfPresent(String.self, forKey: .start)
        maxWaiting = try container.decodeIfPresent(Int.self, forKey: .maxWaiting)
        rounds = try container.decodeIfPresent(Int.self, forKey: .rounds)
        timeouts = try container.decodeIfPresent(ConfigurationFile.Document.Timeouts.self, forKey: .timeouts)
        privacy = try container.decodeIfPresent(ConfigurationFile.Document.Privacy.self, forKey: .privacy)
    }
}
