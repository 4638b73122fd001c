import Foundation
import Logging
import NIOCore
import SecAggClient
import SecAggCoordinator
import SecAggCrypto
import SecAggPrivacy
import SecAggProtocol
import SecAggSimulation
import SecAggTransport
import SecAggWire
import Testing

/// A coordinator service on loopback with eight honest clients, an intruder and a stranger (not enrolled): the
/// harness of the service-level suites (bad input, admission, task lifecycle, metrics, outcome queries, …).
package enum ServiceHarness {
    package static let honestCount = 8
    package static let dimension = 16
    package static let coordinatorKey = key("coordinator")
    package static let honest = (0..<honestCount).map { key("honest-\($0)") }
    package static let intruder = key("intruder")
    package static let stranger = key("stranger")
    // 15 s: no test here waits for a handshake timeout to fire, and under ThreadSanitizer (5-15x slower) an honest
    // client's handshake beside a flood once took longer than 5 s.
    package static let limits = TransportLimits(handshakeTimeout: .seconds(15), idleTimeout: .seconds(20))

    package static func key(_ name: String) -> Ed25519.SigningKey {
        var random = SeededRandom(seed: 2024, stream: "bad-input-\(name)")
        return Ed25519.SigningKey(using: &random)
    }

    package static func input(_ client: Int) -> [UInt64] {
        (0..<dimension).map { UInt64(($0 * 37 + client * 101) % 1001) }
    }

    package static var expectedHonestSum: [UInt64] {
        (0..<dimension).map { position in (0..<honestCount).reduce(UInt64(0)) { $0 + input($1)[position] } }
    }

    /// The main task: harary degree 4, threshold 3; a round starts once `clients` have joined.
    ///
    /// Unbounded (`rounds: nil`) so the service runs until the test stops it after every client has its
    /// outcome: a bounded service stops itself as soon as its last round ends and may cut off clients whose
    /// outcome is still being flushed (see ``boundedServiceFlushesOutcomes()``).
    package static func task(
        clients: Int, rounds: Int? = nil, bits: Int = 32, mode: RoundMode = .honestButCurious, privacy: TaskPrivacy? = nil
    ) -> TaskConfiguration {
        TaskConfiguration(
            name: "sum", dimension: dimension, bits: bits, maximumInput: 1000, graph: .harary(degree: 4), threshold: 3,
            minimumClients: clients, maximumClients: clients, mode: mode, timeouts: .uniform(.seconds(8)),
            gatherWindow: .milliseconds(100), rounds: rounds, privacy: privacy)
    }

    /// A second task that never gathers enough clients to start (for joins that must stay queued).
    package static let sideTask = TaskConfiguration(
        name: "side", dimension: 4, bits: 32, maximumInput: 10, graph: .complete, minimumClients: 3,
        maximumClients: 3, timeouts: .uniform(.seconds(8)), gatherWindow: .seconds(60), rounds: 1)

    /// Runs a coordinator service (the honest clients and the intruder enrolled) while `body` runs, then stops it.
    package static func withService<T: Sendable>(
        tasks: [TaskConfiguration], maximumConnections: Int = 4096, maximumConnectionsPerAddress: Int = 1024,
        inboundBudgetBytes: Int = 16 << 20, limits: TransportLimits = limits, observers: [any CoordinatorObserver] = [],
        resultsDirectory: URL? = nil, _ body: @Sendable (CoordinatorService, Int, LogStore) async throws -> T
    ) async throws -> T {
        var enrolled: [Ed25519.VerifyingKey: String] = [:]
        for (index, key) in honest.enumerated() { enrolled[key.verifyingKey] = "honest-\(index)" }
        enrolled[intruder.verifyingKey] = "intruder"
        let store = LogStore()
        let service = try CoordinatorService(
            settings: CoordinatorSettings(
                host: "127.0.0.1", port: 0, identity: coordinatorKey, enrolled: enrolled, tasks: tasks, limits: limits,
                maximumConnections: maximumConnections, maximumConnectionsPerAddress: maximumConnectionsPerAddress,
                resultsDirectory: resultsDirectory, inboundBudgetBytes: inboundBudgetBytes, observers: observers),
            logger: Logger(label: "test.coordinator") { _ in CapturingLogHandler(store: store) })
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask {
                try await service.run()
                return nil
            }
            let port = try await service.listeningPort()
            let result: T
            do {
                result = try await body(service, port, store)
            } catch {
                if ProcessInfoDump.enabled { for entry in store.entries { print("LOG", entry.level, entry.message, entry.metadata) } }
                throw error
            }
            // Stop the service (it may have stopped by itself after its rounds); its cancellation is not a failure.
            group.cancelAll()
            while true {
                do {
                    if try await group.next() == nil { break }
                } catch {
                    continue
                }
            }
            return result
        }
    }

    /// Runs the honest clients' round and checks it released exactly their sum, with all of them as survivors
    /// except those in `excluding`, and returns the round's survivors.
    @discardableResult
    package static func honestRound(
        port: Int, service: CoordinatorService, exact: Bool = true, intruderCounted: Bool = false,
        alongside intruderRun: (@Sendable () async throws -> IntruderReport)? = nil
    ) async throws -> (record: RoundRecord, intruder: IntruderReport?) {
        let (receipts, report) = try await withThrowingTaskGroup(of: (ParticipationReceipt?, IntruderReport?).self) { group in
            if let intruderRun {
                group.addTask { (nil, try await intruderRun()) }
            }
            for index in 0..<honestCount {
                group.addTask {
                    return (try await client(honest[index], port: port).participate(input: input(index)), nil)
                }
            }
            var receipts: [ParticipationReceipt] = []
            var report: IntruderReport?
            for try await (receipt, intruder) in group {
                if let receipt { receipts.append(receipt) }
                if let intruder { report = intruder }
            }
            return (receipts, report)
        }
        #expect(receipts.count == honestCount)
        let survivorCount = honestCount + (intruderCounted ? 1 : 0)
        for receipt in receipts {
            #expect(receipt.outcome == .completed(survivorCount: UInt32(survivorCount)))
        }
        // The scheduler files the record just after the outcomes go out.
        let history = await service.filedRounds(of: "sum")
        #expect(history.count == 1)
        let record = try #require(history.first)
        #expect(record.abortReason == nil)
        // An intruder dropped only after its masked input arrived (in the consistency check) is in U3: its input
        // counts, as the protocol says (SPEC 1.1: the sum is over U3).
        let expected = intruderCounted
            ? zip(expectedHonestSum, input(999)).map { $0 + $1 } : expectedHonestSum
        if exact { #expect(record.sum == expected, "the released sum must be exactly the survivors' inputs' sum") }
        #expect(record.survivors.count == survivorCount)
        let honestKeys = Set(honest.map { "\($0.verifyingKey)" })
        #expect(Set(record.survivorIdentities).subtracting(["\(intruder.verifyingKey)"]) == honestKeys)
        return (record, report)
    }

    /// A client of the harness's coordinator on `port` as `identity` (silent logs), for `task`, with `policy`.
    package static func client(
        _ identity: Ed25519.SigningKey, port: Int, task: String = "sum", policy: ClientPolicy = ClientPolicy(),
        connectAttempts: Int = 5, outcomeTimeout: Duration = .seconds(120)
    ) -> SecAggClient {
        SecAggClient(
            configuration: SecAggClientConfiguration(
                host: "127.0.0.1", port: port, coordinatorKey: coordinatorKey.verifyingKey, identity: identity, task: task,
                policy: policy, limits: limits, connectAttempts: connectAttempts, admissionTimeout: .seconds(30),
                outcomeTimeout: outcomeTimeout),
            logger: Logger(label: "test.client") { _ in SwiftLogNoOpLogHandler() })
    }

    /// Opens a secure session to the coordinator as `identity` and runs `body` in it.
    package static func connect<T: Sendable>(
        port: Int, as identity: Ed25519.SigningKey,
        _ body: (SecureSession, inout SecureReceiver) async throws -> T
    ) async throws -> T {
        let channel = try await SecureTransport.connect(host: "127.0.0.1", port: port, limits: limits)
        return try await SecureTransport.initiate(
            channel, identity: identity, expectedPeer: coordinatorKey.verifyingKey, limits: limits, body)
    }


    /// How the intruder's connection went.
    package struct IntruderReport: Sendable {
        package var index: ParticipantIndex?
        package var violated = false
        package var sawCompletion = false
        package var endedByTimeout = false
        package var receivedAfterViolation: [String] = []

        package init() {}
    }

    /// Waits (up to 5 s) for a log entry matching `predicate`; woken by each new entry, it never polls.
    package static func waitForLog(_ store: LogStore, _ predicate: @escaping @Sendable (LogStore.Entry) -> Bool) async -> LogStore.Entry? {
        await store.first(where: predicate, within: .seconds(5))
    }
}
