import Foundation
import SecAggCrypto
import SecAggPrivacy

/// What the audit log vouches for, read from its records at start-up: each released round's sum hash, each task's
/// last ledger digest, and every record's hash by sequence number. Records before the last
/// `store_divergence_accepted` record vouch for nothing (an operator accepted the store as it was then).
public struct AuditIndex: Sendable {
    /// `round_finished` records of released rounds: round id → (sequence, `sum_blake2b`).
    var releasedSums: [String: (sequence: Int64, hash: String)] = [:]
    /// The last `privacy_charged` / `privacy_settled` / `budget_changed` record per task: (sequence, `ledger_blake2b`).
    var ledgerDigests: [String: (sequence: Int64, digest: String)] = [:]
    /// Record hash by sequence number (for the store's anchor).
    var hashes: [Int64: String] = [:]
    /// Rounds with a `round_finished` record, and with a `privacy_settled` record (whatever came after): a restart
    /// that publishes what a crash left unpublished does not audit them twice.
    var finishedRounds: Set<String> = []
    var settledRounds: Set<String> = []

    /// Indexes the complete lines of a log (verify the chain first: this reads records, it does not check them).
    public init(contents: ArraySlice<UInt8>) {
        for line in contents.split(separator: UInt8(ascii: "\n")) {
            guard let record = try? AuditValue(parsing: Array(line)),
                  let sequence = record["seq"]?.integerValue, let hash = record["hash"]?.stringValue,
                  let kind = record["kind"]?.stringValue else { continue }
            hashes[sequence] = hash
            switch kind {
            case "round_finished":
                if let round = record["round"]?.stringValue { finishedRounds.insert(round) }
                if record["outcome"]?.stringValue == "released", let round = record["round"]?.stringValue,
                   let sum = record["sum_blake2b"]?.stringValue {
                    releasedSums[round] = (sequence, sum)
                }
            case "privacy_charged", "privacy_settled", "budget_changed":
                if kind == "privacy_settled", let round = record["round"]?.stringValue { settledRounds.insert(round) }
                if let task = record["task"]?.stringValue, let digest = record["ledger_blake2b"]?.stringValue {
                    ledgerDigests[task] = (sequence, digest)
                }
            case "store_divergence_accepted":
                releasedSums.removeAll()
                ledgerDigests.removeAll()
            default:
                break
            }
        }
    }

    init() {}

    /// The digest the audit log records for a ledger: lowercase hex BLAKE2b-256 of its canonical JSON (sorted keys,
    /// as the store keeps it).
    static func ledgerDigest(_ ledger: PrivacyBudget) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let bytes = (try? encoder.encode(ledger)).map { [UInt8]($0) } ?? []
        return Blake2b.hash(Array("secagg audit ledger v1\n".utf8) + bytes).map { String(format: "%02x", $0) }.joined()
    }
}

/// Compares the store with what the audit log vouches for, at start-up (issue 13: a lost WAL, a flipped bit in a
/// stored sum or an edited ledger entry was served silently while the audit log held the evidence).
public enum AuditCrossCheck {
    /// The problems found, each naming the round, task or record; empty when the store and the log agree.
    ///
    /// - Throws: ``StoreError`` if the store cannot be read.
    public static func problems(store: CoordinatorStore, index: AuditIndex) throws -> [String] {
        var problems: [String] = []
        if let anchor = try store.auditAnchor() {
            switch index.hashes[anchor.sequence] {
            case nil:
                let last = index.hashes.keys.max() ?? 0
                problems.append("the audit log ends at record \(last), but the store saw it reach record \(anchor.sequence): "
                    + "records were cut off the log, or it was replaced")
            case let hash? where hash != anchor.hash:
                problems.append("audit record \(anchor.sequence) is not the one the store saw (hash \(hash), expected \(anchor.hash)): "
                    + "the log was rewritten or replaced")
            default:
                break
            }
        }
        for (round, audited) in index.releasedSums.sorted(by: { $0.value.sequence < $1.value.sequence }) {
            guard let result = try store.result(roundID: round) else {
                problems.append("round \(round) was released (audit record \(audited.sequence)) but the store has no result: "
                    + "the store was rolled back or lost data")
                continue
            }
            let stored = AuditLog.sumHash(result.sum)
            if stored != audited.hash {
                problems.append("round \(round): the stored sum does not match audit record \(audited.sequence) "
                    + "(sum_blake2b \(stored), audited \(audited.hash)): the stored sum was changed")
            }
        }
        for (task, audited) in index.ledgerDigests.sorted(by: { $0.key < $1.key }) {
            guard let ledger = try store.ledger(task: task) else {
                problems.append("task '\(task)': the audit log records a privacy ledger (record \(audited.sequence)) but the store has none")
                continue
            }
            let stored = AuditIndex.ledgerDigest(ledger)
            if stored != audited.digest {
                problems.append("task '\(task)': the stored privacy ledger does not match audit record \(audited.sequence) "
                    + "(ledger_blake2b \(stored), audited \(audited.digest)): the ledger was rolled back or edited "
                    + "(spent ε now \(ledger.epsilonSpent))")
            }
        }
        return problems
    }
}
