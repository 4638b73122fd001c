import ArgumentParser
import Foundation
import SecAggCoordinator

/// `secagg audit`: check and read the coordinator's hash-chained audit log (`protocol/AUDIT.md`).
struct AuditCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit", abstract: "Verify or read a coordinator audit log.", subcommands: [Verify.self, Show.self, SumHash.self])

    /// Reads the whole file.
    static func contents(of file: String) throws -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: file) else { throw CommandFailure("cannot read \(file)") }
        return Array(data)
    }

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check every record's hash and the chain; report each edited, removed, inserted or reordered record.",
            discussion: """
                Exits 0 if the log is intact, 1 if it is not. A log cut after a whole record cannot be told from a \
                shorter log by the chain alone: keep the head hash this prints somewhere else (a ticket, another \
                machine) and pass it later with --anchor to prove the log still contains that record. With --store                 (the daemon stopped: the store allows one user), the log is also checked against the coordinator's                 store as secaggd does at every start: the record the store last saw written must still be in the                 log, and every audited release and ledger must match what the store holds.
                """)

        @Argument(help: "The audit log file.") var file: String
        @Option(name: .customLong("anchor"), help: "A record hash kept earlier; the log must still contain it.")
        var anchors: [String] = []
        @Option(help: "The coordinator's store (store.path), to check the log against it.") var store: String?

        func run() throws {
            let contents = try AuditCommand.contents(of: file)
            let verification = AuditChain.verify(contents)
            for problem in verification.problems { print("\(file): \(problem)") }
            if let torn = verification.tornTailBytes {
                print("\(file): line \(verification.lines + 1): unfinished last record "
                      + "(\(torn) bytes without a newline: a write cut short, or the file was truncated inside a record)")
            }
            var missingAnchors = 0
            for anchor in anchors where !verification.hashes.contains(anchor.lowercased()) {
                print("\(file): anchor \(anchor) is not in the log: records were removed or the log was replaced")
                missingAnchors += 1
            }
            var storeProblems = 0
            if let store {
                let problems: [String]
                do {
                    problems = try AuditCrossCheck.problems(
                        store: try CoordinatorStore(path: store),
                        index: AuditIndex(contents: contents[..<verification.intactBytes]))
                } catch {
                    throw CommandFailure("cannot check against the store \(store): \(error)")
                }
                for problem in problems { print("\(file): \(problem)") }
                storeProblems = problems.count
            }
            missingAnchors += storeProblems
            if verification.isIntact && missingAnchors == 0 {
                print("\(file): OK — \(verification.records) record(s), head seq \(verification.lastSequence) hash \(verification.headHash)")
            } else {
                print("\(file): FAILED — \(verification.problems.count + (verification.tornTailBytes == nil ? 0 : 1) + missingAnchors) problem(s) in \(verification.records) record(s)")
                throw ExitCode(1)
            }
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print records one per line (seq, time, kind, fields); does not verify (use verify).")

        @Argument(help: "The audit log file.") var file: String
        @Option(help: "Only records of this kind (e.g. round_finished).") var kind: String?
        @Option(help: "Only the last N records (after --kind).") var last: Int?

        func run() throws {
            let lines = try AuditCommand.contents(of: file).split(separator: UInt8(ascii: "\n"))
            var shown: [String] = []
            for line in lines {
                guard let record = try? AuditValue(parsing: Array(line)), case let .object(members) = record else {
                    shown.append("(unreadable line)")
                    continue
                }
                let recordKind = members["kind"]?.stringValue ?? "?"
                if let kind, kind != recordKind { continue }
                let fields = members.filter { !["seq", "time", "kind", "prev_hash", "hash"].contains($0.key) }
                    .sorted { $0.key < $1.key }
                    .map { "\($0.key)=\(String(decoding: $0.value.canonicalBytes, as: UTF8.self))" }
                shown.append("\(members["seq"]?.integerValue ?? 0) \(members["time"]?.stringValue ?? "?") \(recordKind) "
                             + fields.joined(separator: " "))
            }
            if let last { shown = Array(shown.suffix(max(0, last))) }
            for line in shown { print(line) }
        }
    }

    struct SumHash: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "sum-hash",
            abstract: "Print the sum_blake2b of a round result file, to find its round_finished record in the audit log.")

        @Argument(help: "A result file (results/<task>/<round id>.json).") var file: String

        func run() throws {
            guard let data = FileManager.default.contents(atPath: file) else { throw CommandFailure("cannot read \(file)") }
            let result: PublishedResult
            do {
                result = try PublishedResult.decoded(data)
            } catch {
                throw CommandFailure("\(file) is not a round result file: \(error)")
            }
            guard let residues = result.residues else {
                throw CommandFailure("\(file) holds no released sum (the round \(result.outcome.rawValue))")
            }
            // The audit log hashes the release as it came off the wire: the residues modulo 2^bits.
            print(AuditLog.sumHash(residues))
        }
    }
}
