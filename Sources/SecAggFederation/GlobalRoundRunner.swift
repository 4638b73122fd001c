import Foundation
import SecAggWire

/// How a root reaches its shards' admin listeners: one request, one answer. The command line gives it authenticated
/// admin sessions over TCP; tests may give it anything that answers like a shard.
public protocol ShardAdministration: Sendable {
    /// Sends `request` to the shard named `shard` and returns its answer.
    ///
    /// - Throws: whatever made the shard unreachable; the runner turns it into an exclusion.
    func exchange(_ request: AdminRequest, with shard: String) async throws -> AdminResponse
}

/// Runs one global round from a root (protocol/FEDERATION.md §3, §4): asks every shard to start its round for the
/// global round, collects each shard's signed cohort release until a deadline, and combines them.
///
/// The I/O edge of federation: the shards are reached through the injected ``ShardAdministration``; the checks and
/// the arithmetic are ``CohortCombiner``'s. A shard that refuses, fails, aborts or misses the deadline is excluded
/// with the reason; nothing is retried into another global round.
public struct GlobalRoundRunner: Sendable {
    public var expectation: GlobalRoundExpectation
    public var policy: GlobalRoundPolicy
    /// How long the shards have, from the start requests, to deliver their releases.
    public var deadline: Duration
    /// Between two release requests to a shard whose round is not finished.
    public var pollInterval: Duration

    public init(
        expectation: GlobalRoundExpectation, policy: GlobalRoundPolicy, deadline: Duration,
        pollInterval: Duration = .milliseconds(500)
    ) {
        self.expectation = expectation
        self.policy = policy
        self.deadline = deadline
        self.pollInterval = pollInterval
    }

    /// Starts the shards' rounds, waits for their releases (all shards at once), and combines what came.
    public func run(using administration: some ShardAdministration) async -> GlobalRoundOutcome {
        let end = ContinuousClock.now + deadline
        let submissions = await withTaskGroup(of: (String, CohortSubmission).self) { group in
            for shard in expectation.shards.keys.sorted() {
                group.addTask { (shard, await collect(from: shard, until: end, using: administration)) }
            }
            var all: [String: CohortSubmission] = [:]
            for await (shard, submission) in group { all[shard] = submission }
            return all
        }
        return CohortCombiner.combine(submissions, expecting: expectation, policy: policy)
    }

    /// One shard's part: the start request, then release requests until a release, a definite failure or the end.
    private func collect(
        from shard: String, until end: ContinuousClock.Instant, using administration: some ShardAdministration
    ) async -> CohortSubmission {
        let task = expectation.taskName
        let round = expectation.globalRound
        // The start is asked again while too few of the shard's clients wait yet (they may still be connecting).
        var started = false
        var last = "no answer"
        while !started {
            if Task.isCancelled { return .none(reason: "the root stopped before the shard's round started") }
            do {
                let answer = try await administration.exchange(.startGlobalRound(task: task, globalRound: round), with: shard)
                if answer.status == .ok {
                    started = true
                } else if answer.status == .failed, answer.body.contains(GlobalRoundAnswer.tooFewClientsWaiting), ContinuousClock.now < end {
                    last = answer.body
                    try? await Task.sleep(for: min(pollInterval, max(.zero, end - ContinuousClock.now)))
                } else {
                    return .none(reason: "start refused: \(answer.body)")
                }
            } catch {
                return .none(reason: "unreachable: \(error)")
            }
        }
        while ContinuousClock.now < end {
            if Task.isCancelled { return .none(reason: "the root stopped while waiting (last answer: \(last))") }
            do {
                let answer = try await administration.exchange(.cohortRelease(task: task, globalRound: round), with: shard)
                switch answer.status {
                case .ok:
                    guard let bytes = Self.releaseBytes(answer.body) else {
                        return .none(reason: "the shard's answer holds no release")
                    }
                    return .release(bytes)
                case .failed where answer.body.contains(GlobalRoundAnswer.stillRunning),
                     .notFound where answer.body.contains(GlobalRoundAnswer.noRoundYet):
                    // Not there yet: the round has not started (the clients are still gathering) or still runs.
                    last = answer.body
                default:
                    return .none(reason: answer.body)
                }
            } catch {
                last = "unreachable: \(error)"
            }
            try? await Task.sleep(for: min(pollInterval, max(.zero, end - ContinuousClock.now)))
        }
        return .none(reason: "no release within \(deadline) (last answer: \(last))")
    }

    /// The `release` hex of a cohortRelease answer (ADMIN.md).
    static func releaseBytes(_ body: String) -> [UInt8]? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any],
              let hex = object["release"] as? String
        else { return nil }
        return bytes(fromHex: hex)
    }
}
