import Foundation
import SecAggCoordinator
import SecAggFederation
import SecAggPrivacy
import SecAggWire

/// The JSON record of one global round (protocol/FEDERATION.md §4): what `secagg federation round` prints and what
/// the root stores and shows. It holds every included cohort's signed release, so anyone with the shards' keys can
/// check the result again (`secagg admin global export`).
public enum GlobalRoundReport {
    /// The record of a global round that has started and not finished.
    public static func running(globalRound: GlobalRoundID, task: String, shards: [String], actor: String, charge: [String: Any]?)
        -> [String: Any]
    {
        var object: [String: Any] = [
            "global_round": "\(globalRound)", "task": task, "state": "running", "shards": shards, "requested_by": actor,
        ]
        if let charge { object["privacy"] = charge }
        return object
    }

    /// The record of a finished global round: cohorts in (with their signed releases) and out (with reasons), and
    /// the sum — exact integers, and decoded reals for a real-encoded task — with its noise, or the failure.
    public static func finished(_ outcome: GlobalRoundOutcome, globalRound: GlobalRoundID, task: TaskConfiguration) -> [String: Any] {
        var object: [String: Any] = [
            "global_round": "\(globalRound)", "task": task.name,
            "included": outcome.included.map { cohort -> [String: Any] in
                [
                    "shard": cohort.shard, "round_id": "\(cohort.release.release.roundID)",
                    "survivors": Int(cohort.release.release.survivors), "release": hexString(cohort.release.encoded),
                ]
            },
            "excluded": outcome.excluded.map { ["shard": $0.shard, "reason": "\($0.reason)"] },
        ]
        switch outcome.result {
        case let .success(sum):
            object["state"] = "released"
            switch sum.values {
            case let .unsigned(values): object["sum"] = values.map { NSNumber(value: $0) }
            case let .signed(values): object["sum"] = values.map { NSNumber(value: $0) }
            }
            object["bits"] = sum.bits
            object["survivors"] = sum.survivors
            object["cohorts"] = outcome.included.count
            object["noise_sigma"] = sum.noiseSigma
            if let encoder = task.encoder {
                // The reals: the integer sum in its width, scaled by γ and rotated back (SPEC §5.11). The noise's
                // RMSE per real entry is σ·γ (the rotation is orthonormal).
                do {
                    object["decoded"] = try decodedReals(sum, encoder: encoder)
                    object["noise_rmse"] = sum.noiseSigma * encoder.granularity
                } catch {
                    object["decode_error"] = "\(error)"
                }
            } else {
                object["noise_rmse"] = sum.noiseSigma
            }
        case let .failure(failure):
            object["state"] = "aborted"
            object["failure"] = "\(failure)"
        }
        return object
    }

    /// The sum of the cohorts' clipped real vectors (plus noise): the exact integer sum read in its own width.
    ///
    /// - Throws: `EncodingError` if the encoder's parameters do not fit that width.
    static func decodedReals(_ sum: GlobalSum, encoder: RealVectorEncoding) throws -> [Double] {
        let mask: UInt64 = sum.bits >= 64 ? .max : (UInt64(1) << UInt64(sum.bits)) - 1
        let residues: [UInt64]
        switch sum.values {
        case let .signed(values): residues = values.map { UInt64(bitPattern: $0) & mask }
        case let .unsigned(values): residues = values.map { $0 & mask }
        }
        // The shards' shifts are already out (the combiner took survivors × B from each cohort).
        return try encoder.decodeSum(residues, survivors: 0, bits: sum.bits)
    }

    /// Sorted, pretty JSON text.
    public static func text(_ object: [String: Any]) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .prettyPrinted])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}
