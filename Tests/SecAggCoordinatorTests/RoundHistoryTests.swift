@testable import SecAggCoordinator
import SecAggWire
import SecAggTesting
import Testing

/// The bounded round history a task scheduler keeps in memory (found by the soak: bounded by count only, it held
/// a hundred released sums, so the daemon grew with every round of a task with large vectors).
@Suite("Round history")
struct RoundHistoryTests {
    static func record(_ number: Int, entries: Int?) throws -> RoundRecord {
        let roundID = try #require(RoundID(bytes: Array(repeating: UInt8(number % 256), count: 16)))
        let parameters = RoundParameters(
            roundID: roundID, taskName: "t", dimension: UInt32(entries ?? 1), bits: 32, maximumInput: 10, graph: .complete,
            threshold: 2, minimumSurvivors: 2, mode: .honestButCurious, invitedCount: 3, nonce: Array(repeating: 1, count: 32))
        return RoundRecord(
            task: "t", roundID: roundID, parameters: parameters, sum: entries.map { Array(repeating: UInt64(number), count: $0) },
            survivors: [], survivorIdentities: [], abortReason: nil, phaseSeconds: [:], phaseCounts: [:], droppedPerPhase: [:],
            wallSeconds: Double(number))
    }

    @Test("small sums: the newest 100 records stay")
    func boundedByCount() throws {
        var history: [RoundRecord] = []
        for number in 1...250 {
            history.append(try Self.record(number, entries: 8))
            TaskScheduler.trim(&history)
        }
        #expect(history.count == 100)
        #expect(history.map(\.wallSeconds) == (151...250).map(Double.init))
    }

    @Test("large sums: at most 2^20 entries in all, and the newest record always stays")
    func boundedBySumEntries() throws {
        var history: [RoundRecord] = []
        for number in 1...20 {
            history.append(try Self.record(number, entries: 300_000))
            TaskScheduler.trim(&history)
            #expect(history.reduce(0) { $0 + ($1.sum?.count ?? 0) } <= 1 << 20)
        }
        #expect(history.map(\.wallSeconds) == [18, 19, 20])
        history.append(try Self.record(21, entries: 2_000_000))
        TaskScheduler.trim(&history)
        #expect(history.map(\.wallSeconds) == [21])
        // Aborted rounds carry no sum and cost no entries; the oversized sum goes once it is not the newest.
        for number in 22...30 { history.append(try Self.record(number, entries: nil)) }
        TaskScheduler.trim(&history)
        #expect(history.map(\.wallSeconds) == (22...30).map(Double.init))
    }
}
