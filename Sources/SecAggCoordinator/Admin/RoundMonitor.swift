import Foundation
import NIOConcurrencyHelpers
import SecAggProtocol
import SecAggWire

/// The live progress of a task's round in flight, for `secagg admin round watch`: updated by the running round
/// (``RoundRun``) as inputs arrive, at most every 100 ms, read by the admin listener.
final class RoundMonitor: Sendable {
    /// What a round looks like at one moment.
    struct Snapshot: Sendable, Hashable {
        var roundID: RoundID
        var startedAt: Date
        var participants: Int
        /// The open phase and its counts (nil before the first phase opens).
        var progress: PhaseProgress?
        var droppedPerPhase: [RoundPhase: Int]
    }

    private let state = NIOLockedValueBox<Snapshot?>(nil)

    /// The round in flight, if any.
    var current: Snapshot? { state.withLockedValue { $0 } }

    func update(_ snapshot: Snapshot) {
        state.withLockedValue { $0 = snapshot }
    }

    func clear() {
        state.withLockedValue { $0 = nil }
    }
}
