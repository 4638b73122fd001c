import Foundation
import Logging
@testable import SecAggCoordinator
import SecAggNoise
import SecAggProtocol
import SecAggTransport
import SecAggWire
import SecAggTesting
import Testing

/// The hash-chained audit log: canonical records, durable appends that continue across reopening, and a verifier
/// that finds every edited, removed, inserted or reordered record and says where.
@Suite("Audit log")
struct AuditLogTests {
    /// A log of `count` records (`note` with `n` = 1...count) and its lines.
    static func log(_ count: Int) throws -> (path: String, lines: [String]) {
        let path = try TestFiles.folder().appendingPathComponent("audit.log").path
        let log = try AuditLog(path: path, logger: AuditFiles.logger)
        for number in 1...count { try log.append(kind: "note", fields: ["n": .integer(Int64(number))]) }
        return (path, try TestFiles.lines(path))
    }

    static func verify(_ lines: [String]) -> AuditVerification {
        AuditChain.verify(Array((lines.joined(separator: "\n") + "\n").utf8))
    }

    @Test("canonical JSON: sorted keys by bytes, minimal escapes, no whitespace; parsing round-trips")
    func canonicalForm() throws {
        let value: AuditValue = .object([
            "b": .array([1, -2, true, "x"]), "a": "quote\" backslash\\ newline\n tab\t bell\u{07} é",
            "B": .object([:]), "ä": 0,
        ])
        let text = String(decoding: value.canonicalBytes, as: UTF8.self)
        #expect(text == #"{"B":{},"a":"quote\" backslash\\ newline\n tab\t bell\u0007 é","b":[1,-2,true,"x"],"ä":0}"#)
        #expect(try AuditValue(parsing: value.canonicalBytes) == value)
        #expect(throws: AuditValueError.self) { try AuditValue(parsing: Array(#"{"a":1.5}"#.utf8)) }
        #expect(throws: AuditValueError.self) { try AuditValue(parsing: Array(#"{"a":null}"#.utf8)) }
    }

    @Test("records chain from the genesis hash; reopening continues the chain")
    func appendAndReopen() throws {
        let (path, first) = try Self.log(3)
        let reopened = try AuditFiles.reopen(path)
        #expect(reopened.head.sequence == 3)
        let appended = try reopened.append(kind: "note", fields: ["n": 4, "seq": 99, "hash": "forged"])
        #expect(appended.sequence == 4)
        let lines = try TestFiles.lines(path)
        #expect(Array(lines.prefix(3)) == first)
        let records = try lines.map { try AuditValue(parsing: Array($0.utf8)) }
        #expect(records[0]["prev_hash"]?.stringValue == AuditChain.genesisHash)
        for index in 1..<records.count {
            #expect(records[index]["prev_hash"] == records[index - 1]["hash"])
            #expect(records[index]["seq"]?.integerValue == Int64(index + 1))
        }
        #expect(records[3]["hash"]?.stringValue == appended.hash)
        #expect(records[3]["n"]?.integerValue == 4, "reserved names in fields are ignored, the rest kept")
        let verification = AuditChain.verify(Array(try Data(contentsOf: URL(fileURLWithPath: path))))
        #expect(verification.isIntact)
        #expect(verification.records == 4)
        #expect(verification.headHash == appended.hash)
        #expect(FileManager.default.fileExists(atPath: path))
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
    }

    // Issue 12/13: a second daemon on the same configuration appended `log_opened` to the live log before it failed
    // on the store lock, breaking the running daemon's chain. The log now has one writer; a second open fails
    // before writing, and succeeds once the first is closed. An existing log others can read is tightened to 0600.
    @Test("the audit log has one writer: a second open is refused before it writes anything")
    func oneWriter() throws {
        let (path, lines) = try Self.log(2)
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: path)
        // `reopen`: a process another test spawns at this moment may still share the descriptor `log(2)` closed.
        var first: AuditLog? = try AuditFiles.reopen(path)
        #expect(try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int == 0o600)
        #expect(throws: AuditLogError.self) { _ = try AuditLog(path: path, logger: AuditFiles.logger) }
        #expect(try TestFiles.lines(path) == lines, "the refused writer must not have written")
        _ = try first?.append(kind: "note", fields: [:])
        first = nil
        let second = try AuditFiles.reopen(path)
        #expect(second.head.sequence == 3)
    }

    @Test("an edited field is found at its record, by its hash and its canonical form")
    func editedRecord() throws {
        var (_, lines) = try Self.log(5)
        lines[2] = lines[2].replacingOccurrences(of: #""n":3"#, with: #""n":7"#)
        let verification = Self.verify(lines)
        #expect(!verification.isIntact)
        #expect(verification.problems.map(\.line) == [3])
        #expect(verification.problems.first?.message.contains("do not match its hash") == true)

        var spaced = try Self.log(2).lines
        spaced[1] = spaced[1].replacingOccurrences(of: #""kind":"note""#, with: #""kind": "note""#)
        let reformatted = Self.verify(spaced)
        #expect(reformatted.problems.map(\.line) == [2])
        #expect(reformatted.problems.first?.message.contains("canonical") == true)
    }

    @Test("an edited and re-hashed record breaks the link to the next one")
    func rehashedRecord() throws {
        var (_, lines) = try Self.log(4)
        var members: [String: AuditValue] = [:]
        if case let .object(parsed) = try AuditValue(parsing: Array(lines[1].utf8)) { members = parsed }
        members["n"] = 20
        members["hash"] = .string(AuditChain.hash(of: members))
        lines[1] = String(decoding: AuditValue.object(members).canonicalBytes, as: UTF8.self)
        let verification = Self.verify(lines)
        #expect(verification.problems.map(\.line) == [3])
        #expect(verification.problems.first?.message.contains("prev_hash") == true)
    }

    @Test("a removed record is reported once, where the gap is")
    func removedRecord() throws {
        var (_, lines) = try Self.log(6)
        lines.remove(at: 2)
        let verification = Self.verify(lines)
        #expect(Set(verification.problems.map(\.line)) == [3])
        #expect(verification.problems.contains { $0.message.contains("record 3 is missing") })
        #expect(verification.problems.contains { $0.message.contains("prev_hash") })
    }

    @Test("reordered, duplicated and blanked records are reported where they are")
    func reorderedRecords() throws {
        var (_, lines) = try Self.log(5)
        lines.swapAt(1, 2)
        #expect(Set(Self.verify(lines).problems.map(\.line)) == [2, 3, 4])

        var duplicated = try Self.log(3).lines
        duplicated.insert(duplicated[0], at: 2)
        let found = Self.verify(duplicated)
        #expect(found.problems.contains { $0.line == 3 && $0.message.contains("inserted") })

        var blanked = try Self.log(3).lines
        blanked[1] = ""
        #expect(Self.verify(blanked).problems.first?.line == 2)
    }

    @Test("a torn last line is reported by verify; reopening moves it aside and records the recovery")
    func tornTail() throws {
        let (path, lines) = try Self.log(3)
        let handle = try #require(FileHandle(forWritingAtPath: path))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(#"{"kind":"note","n":4,"prev_ha"#.utf8))
        try handle.close()
        let torn = AuditChain.verify(Array(try Data(contentsOf: URL(fileURLWithPath: path))))
        #expect(torn.tornTailBytes == 29)
        #expect(torn.problems.isEmpty)
        #expect(!torn.isIntact)

        let reopened = try AuditFiles.reopen(path)
        #expect(reopened.head.sequence == 4)
        let after = try TestFiles.lines(path)
        #expect(Array(after.prefix(3)) == lines)
        let recovery = try AuditValue(parsing: Array(after[3].utf8))
        #expect(recovery["kind"]?.stringValue == "log_recovered")
        #expect(recovery["torn_bytes"]?.integerValue == 29)
        let side = try #require(recovery["saved_to"]?.stringValue)
        #expect(try String(contentsOfFile: side, encoding: .utf8) == #"{"kind":"note","n":4,"prev_ha"#)
        #expect(AuditChain.verify(Array(try Data(contentsOf: URL(fileURLWithPath: path)))).isIntact)
    }

    @Test("a log whose chain is broken is not extended")
    func brokenLogIsRefused() throws {
        var (path, lines) = try Self.log(3)
        lines.remove(at: 1)
        try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        #expect(throws: AuditLogError.self) { try AuditLog(path: path, logger: AuditFiles.logger) }
        #expect(try TestFiles.lines(path) == lines, "the evidence is left untouched")
    }

    @Test("a released sum is recorded by its hash, never its entries; DP parameters are recorded")
    func roundFinishedHasNoVector() throws {
        let roundID = try #require(RoundID(bytes: Array(repeating: 7, count: 16)))
        let parameters = RoundParameters(
            roundID: roundID, taskName: "t", dimension: 3, bits: 32, maximumInput: 10, graph: .complete, threshold: 2,
            minimumSurvivors: 2, mode: .honestButCurious, invitedCount: 3, nonce: Array(repeating: 1, count: 32),
            noise: .central(variance: NoiseVariance(numerator: 9, denominator: 2)))
        let record = RoundRecord(
            task: "t", roundID: roundID, parameters: parameters, sum: [123_456_789, 987_654_321, 555_555_555],
            survivors: [1, 2, 3], survivorIdentities: ["aa", "bb", "cc"], abortReason: nil, phaseSeconds: [:],
            phaseCounts: [:], droppedPerPhase: [.shareKeys: 1], wallSeconds: 1.5)
        let (kind, fields) = AuditLog.fields(of: .roundFinished(record))
        #expect(kind == "round_finished")
        let text = String(decoding: AuditValue.object(fields).canonicalBytes, as: UTF8.self)
        for entry in [123_456_789, 987_654_321, 555_555_555] { #expect(!text.contains("\(entry)")) }
        #expect(fields["sum_blake2b"]?.stringValue == AuditLog.sumHash([123_456_789, 987_654_321, 555_555_555]))
        #expect(fields["noise"] == "central")
        #expect(fields["noise_variance"] == "9/2")
        #expect(fields["outcome"] == "released")
        #expect(fields["dropped"] == .object(["share": 1]))
        #expect(AuditLog.sumHash([1]) != AuditLog.sumHash([1, 0]))
    }

    @Test("authentication failures are classified into a few categories, never the peer's text")
    func authenticationCategories() {
        let cases: [(TransportError, AuthenticationFailureCategory)] = [
            (.handshakeFailed(.decryptionFailed), .handshakeFailed),
            (.handshakeTimedOut, .handshakeTimeout),
            (.peerRejected(reason: "identity abc is not enrolled"), .notEnrolled),
            (.malformedHandshakePayload(reason: "short"), .malformedPayload),
            (.connectionClosed, .other),
        ]
        for (error, category) in cases {
            #expect(AuthenticationFailureCategory(reason: "\(error)") == category, "\(error)")
        }
        let (_, fields) = AuditLog.fields(of: .authenticationFailed(remote: "[IPv4]1.2.3.4:5", reason: "\(TransportError.handshakeTimedOut)"))
        #expect(fields["category"] == "handshake_timeout")
    }

    @Test("a flood of authentication failures is capped per minute")
    func authenticationFailuresAreCapped() throws {
        let path = try TestFiles.folder().appendingPathComponent("audit.log").path
        let log = try AuditLog(path: path, logger: AuditFiles.logger)
        for _ in 0..<(AuditLog.authenticationFailuresPerMinute + 50) {
            log.observe(.authenticationFailed(remote: "x", reason: "Noise handshake timed out"))
        }
        #expect(log.head.sequence == Int64(AuditLog.authenticationFailuresPerMinute))
        log.observe(.clientRevoked(identity: "ab", actor: "admin"))
        #expect(log.head.sequence == Int64(AuditLog.authenticationFailuresPerMinute + 1), "other events are not capped")
    }
}
