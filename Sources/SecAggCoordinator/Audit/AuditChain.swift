import SecAggCrypto

/// The hash chain of the audit log (`protocol/AUDIT.md`): how a record is hashed, and how a whole file is checked.
///
/// Each record is one line: the canonical JSON (``AuditValue``) of an object with `seq` (1, 2, …), `time`,
/// `kind`, the event's fields, `prev_hash` (the previous record's `hash`; 64 zeros for the first) and `hash` =
/// hex BLAKE2b-256 of ``domainLabel`` followed by the canonical bytes of the record without its `hash` member.
public enum AuditChain {
    /// Prefix of every hashed record (domain separation from every other BLAKE2b use in secagg).
    public static let domainLabel = Array("secagg audit record v1\n".utf8)
    /// `prev_hash` of the first record.
    public static let genesisHash = String(repeating: "0", count: 64)
    /// Members every record has; event fields never use these names.
    public static let reservedKeys: Set<String> = ["seq", "time", "kind", "prev_hash", "hash"]

    /// The `hash` of a record, given all its other members (`prev_hash` included).
    public static func hash(of members: [String: AuditValue]) -> String {
        var unhashed = members
        unhashed["hash"] = nil
        return hex(Blake2b.hash(domainLabel + AuditValue.object(unhashed).canonicalBytes))
    }

    /// A record with its `hash` computed: the line to append (without the newline).
    static func seal(
        sequence: Int64, time: String, kind: String, fields: [String: AuditValue], previousHash: String
    ) -> (line: [UInt8], hash: String) {
        var members = fields.filter { !reservedKeys.contains($0.key) }
        members["seq"] = .integer(sequence)
        members["time"] = .string(time)
        members["kind"] = .string(kind)
        members["prev_hash"] = .string(previousHash)
        let digest = hash(of: members)
        members["hash"] = .string(digest)
        return (AuditValue.object(members).canonicalBytes, digest)
    }

    /// Checks a whole audit file: every line canonical, every hash right, sequence numbers consecutive from 1,
    /// every `prev_hash` equal to the previous record's hash, and the file ending with a newline.
    ///
    /// It does not stop at the first problem: after a broken link it continues from the record it found, so one
    /// removed record is reported once, not for every record after it.
    public static func verify(_ contents: [UInt8]) -> AuditVerification {
        var result = AuditVerification()
        var lines = contents.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        // Bytes after the last newline are an unfinished record (a write cut short by a crash).
        if let last = lines.popLast(), !last.isEmpty {
            result.tornTailBytes = last.count
            result.intactBytes = contents.count - last.count
        } else {
            result.intactBytes = contents.count
        }
        result.lines = lines.count
        var expectedSequence: Int64 = 1
        var previousHash = genesisHash
        for (offset, line) in lines.enumerated() {
            let number = offset + 1
            func problem(_ text: String) { result.problems.append(AuditProblem(line: number, message: text)) }
            guard !line.isEmpty else {
                problem("empty line (a record was removed and its line left blank)")
                continue
            }
            let bytes = Array(line)
            let record: AuditValue
            do {
                record = try AuditValue(parsing: bytes)
            } catch {
                problem("not a record: \(error)")
                continue
            }
            guard case let .object(members) = record, let sequence = members["seq"]?.integerValue,
                  let stored = members["hash"]?.stringValue, let previous = members["prev_hash"]?.stringValue,
                  members["kind"]?.stringValue != nil, members["time"]?.stringValue != nil
            else {
                problem("not a record: seq, time, kind, prev_hash or hash is missing or has the wrong type")
                continue
            }
            result.records += 1
            if record.canonicalBytes != bytes {
                problem("record \(sequence) is not in canonical form: it was edited after it was written")
            }
            if hash(of: members) != stored {
                problem("record \(sequence): its contents do not match its hash: it was edited")
            }
            if sequence != expectedSequence {
                let what = sequence > expectedSequence
                    ? "record \(expectedSequence)\(sequence - expectedSequence > 1 ? "...\(sequence - 1)" : "") is missing (removed) or the records were reordered"
                    : "a record was inserted, duplicated or moved here"
                problem("sequence number \(sequence) where \(expectedSequence) was expected: \(what)")
            }
            if previous != previousHash {
                problem("record \(sequence): prev_hash does not match the hash of the record before it "
                        + "(a record before it was removed, inserted, reordered or rewritten)")
            }
            expectedSequence = sequence + 1
            previousHash = stored
            result.lastSequence = sequence
            result.headHash = stored
            result.hashes.insert(stored)
        }
        return result
    }

    static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        text.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: text, as: UTF8.self)
    }
}

/// One thing wrong in an audit file, at a 1-based line number (line n holds record n in an intact file).
public struct AuditProblem: Sendable, Hashable, CustomStringConvertible {
    public var line: Int
    public var message: String
    public var description: String { "line \(line): \(message)" }
}

/// What ``AuditChain/verify(_:)`` found.
public struct AuditVerification: Sendable {
    /// Lines that parsed as records.
    public var records = 0
    /// Complete (newline-terminated) lines.
    public var lines = 0
    /// Broken links, edits and malformed lines, in file order.
    public var problems: [AuditProblem] = []
    /// Length of an unfinished last line (no newline), if there is one.
    public var tornTailBytes: Int?
    /// Bytes up to and including the last newline.
    public var intactBytes = 0
    /// `seq` and `hash` of the last record (0 and the genesis hash for an empty file).
    public var lastSequence: Int64 = 0
    public var headHash = AuditChain.genesisHash
    /// Every record's hash (to check an anchor an operator kept elsewhere).
    public var hashes: Set<String> = []

    /// True if every record is intact and chained and nothing is torn.
    public var isIntact: Bool { problems.isEmpty && tornTailBytes == nil }
}
