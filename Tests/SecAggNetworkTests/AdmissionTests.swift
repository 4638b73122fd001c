import Foundation
import Logging
import NIOCore
import NIOPosix
@testable import SecAggCoordinator
import SecAggCrypto
import SecAggProtocol
import SecAggSimulation
import SecAggTransport
import SecAggWire
import SecAggTesting
import Testing

/// One client must not be able to stall or bloat the coordinator (issue 13, findings 1, 2 and 6): what a connection
/// may send is bounded by where it is (before its join, in a queue, in a round's phase), each round has its own
/// inbound budget, one identity holds at most one connection, one address a bounded number, and a revoked client
/// leaves the queue at once. Each test failed on the coordinator before these limits existed.
@Suite("Admission and budgets against the coordinator service", .serialized)
struct AdmissionTests {
    typealias Base = ServiceHarness

    /// A session as `identity` with a way to send the first fragment of a message that announces `announced` bytes
    /// and carries only `bytes` of it (what a stalling or bloating client does); `body` gets the session, its
    /// receiver and that sender.
    static func rawSession<T: Sendable>(
        port: Int, as identity: Ed25519.SigningKey,
        _ body: (SecureSession, inout SecureReceiver, _ announce: (Int, [UInt8]) async throws -> Void) async throws -> T
    ) async throws -> T {
        var limits = Base.limits
        limits.maximumMessageBytes = 1 << 30
        let channel = try await SecureTransport.connect(host: "127.0.0.1", port: port, limits: limits)
        return try await channel.executeThenClose { inbound, outbound in
            var frames = inbound.makeAsyncIterator()
            let session = try await SecureHandshake.initiate(
                inbound: &frames, outbound: outbound, identity: identity,
                expectedPeer: Base.coordinatorKey.verifyingKey, limits: limits)
            var receiver = SecureReceiver(frames: frames, session: session, channel: channel.channel)
            let announce: (Int, [UInt8]) async throws -> Void = { announced, bytes in
                try await outbound.write(ByteBuffer(bytes: try session.sealedAnnouncement(of: announced, carrying: bytes)))
            }
            return try await body(session, &receiver, announce)
        }
    }

    /// Joins "sum" as the intruder and follows the protocol with the real client state machine until it is about to
    /// send a message of type `type`; it announces `announced(message)` bytes instead, sends only `carrying(message)`
    /// of them, and stops. Returns how long the coordinator then took to close the connection (nil: it did not
    /// within 10 s).
    static func announceInRound(
        port: Int, type: UInt8, announced: @escaping (ClientMessage) -> Int, carrying: @escaping (ClientMessage) -> [UInt8]
    ) async throws -> (report: Base.IntruderReport, closedAfter: Duration?) {
        try await rawSession(port: port, as: Base.intruder) { session, receiver, announce in
            try await join("sum", session, &receiver)
            var machine = ClientStateMachine(configuration: ClientConfiguration(identity: Base.intruder), input: Base.input(999))
            var random = SystemRandom()
            var report = Base.IntruderReport()
            while !report.violated, let bytes = try? await receiver.receive(within: .seconds(15)) {
                let message = try CoordinatorMessage(decoding: bytes)
                if case let .advertiseKeysRequest(request) = message { report.index = request.participant }
                for case let .send(outgoing) in try machine.handle(message, using: &random) {
                    if outgoing.typeCode == type {
                        try await announce(announced(outgoing), carrying(outgoing))
                        report.violated = true
                    } else {
                        try await session.send(outgoing.encoded)
                    }
                }
            }
            return (report, await closed(&receiver, within: .seconds(10)))
        }
    }

    /// Joins `task` on an open session and checks it is accepted.
    static func join(_ task: String, _ session: SecureSession, _ receiver: inout SecureReceiver) async throws {
        try await session.send(JoinRequest(taskName: task).encoded)
        let answer = try JoinResponse(decoding: try #require(try await receiver.receive(within: .seconds(10))))
        try #require(answer.result == .accepted, "join of \(task): \(answer)")
    }

    /// Waits for the connection to end; returns how long it took (nil if a message came or the wait timed out).
    /// The refusal a waiting client is released with (SPEC §4.9: its join withdrawn), if it arrives within `limit`
    /// and the connection then closes.
    static func withdrawn(
        _ receiver: inout SecureReceiver, within limit: Duration
    ) async -> (refusal: JoinResponse.Refusal, reason: String)? {
        guard let bytes = try? await receiver.receive(within: limit), let refusal = JoinResponse.refusal(in: bytes),
              await closed(&receiver, within: limit) != nil else {
            return nil
        }
        return refusal
    }

    static func closed(_ receiver: inout SecureReceiver, within limit: Duration) async -> Duration? {
        let start = ContinuousClock.now
        let outcome = await outcomeOf { try await receiver.receive(within: limit) }
        return outcome.closedWithoutMessage ? ContinuousClock.now - start : nil
    }

    // Finding 1: a client waiting in one task's queue announces 16 MiB and sends nothing more. Before, the
    // announcement was reserved from the one inbound budget of the service, and the honest round of another task
    // aborted with every client dropped; now a queued client may send nothing, so it is refused at the first fragment.
    @Test("a queued client that announces a message is closed at once; another task's round is unaffected")
    func queuedAnnouncer() async throws {
        try await Base.withService(
            tasks: [Base.task(clients: Base.honestCount), Base.sideTask], inboundBudgetBytes: 1 << 20
        ) { service, port, logs in
            let closedAfter = try await Self.rawSession(port: port, as: Base.intruder) { session, receiver, announce in
                try await Self.join("side", session, &receiver)
                try await announce(16 << 20, [UInt8](repeating: 7, count: 100))
                // The honest round of the other task starts while the announcement is (or was) pending.
                try await Base.honestRound(port: port, service: service)
                return await Self.closed(&receiver, within: .seconds(5))
            }
            #expect(closedAfter != nil, "the announcer's connection must be closed, not left to its idle timeout")
            let entry = await Base.waitForLog(logs) {
                $0.message == "connection closed" && ($0.metadata["reason"] ?? "").contains("where none is allowed")
            }
            #expect(entry != nil, "the refusal must be logged with its reason")
        }
    }

    // Finding 1, inside a round: an announcement larger than the current phase's largest message (16 MiB in the
    // advertise phase, 64 MiB in the masked phase) is refused before anything is reserved, the client is dropped for
    // an oversized message, and the round releases the honest clients' exact sum.
    @Test("an announcement over the phase's largest message drops the client; the round completes exactly",
          arguments: [RoundPhase.advertiseKeys, .maskedInputCollection])
    func oversizedInRound(_ phase: RoundPhase) async throws {
        let task = Base.task(clients: Base.honestCount + 1)
        try await Base.withService(tasks: [task], inboundBudgetBytes: 1 << 20) { service, port, logs in
            let announced = phase == .advertiseKeys ? 16 << 20 : 64 << 20
            let (record, _) = try await Base.honestRound(port: port, service: service) {
                let (report, closedAfter) = try await Self.announceInRound(
                    port: port, type: 0x41 + phase.rawValue, announced: { _ in announced },
                    carrying: { Array($0.encoded.prefix(64)) })
                // Closed rather than left to the phase deadline; the violation logged below says why.
                #expect(closedAfter != nil, "the coordinator must close the connection")
                return report
            }
            #expect(record.survivors.count == Base.honestCount)
            let violation = await Base.waitForLog(logs) {
                $0.message == "protocol violation; closing the connection"
                    && $0.metadata["identity"] == "\(Base.intruder.verifyingKey)"
            }
            let reason = violation?.metadata["reason"] ?? ""
            #expect(reason.contains("oversized message: \(announced) bytes announced"), "logged reason: \(reason)")
        }
    }

    // Finding 2: the first message after the handshake was read with the 64 MiB limit and no budget, so a dozen
    // connections of one identity took hundreds of MiB. Now it is held to the largest JoinRequest (259 bytes).
    @Test("a first message larger than the largest JoinRequest is refused before its body")
    func oversizedJoin() async throws {
        try await Base.withService(tasks: [Base.task(clients: Base.honestCount)]) { service, port, logs in
            let closedAfter = try await Self.rawSession(port: port, as: Base.intruder) { _, receiver, announce in
                try await announce(1 << 20, [UInt8](repeating: 1, count: 1000))
                return await Self.closed(&receiver, within: .seconds(5))
            }
            #expect(closedAfter != nil)
            let entry = await Base.waitForLog(logs) {
                $0.message == "connection closed"
                    && ($0.metadata["reason"] ?? "").contains("announced a 1048576-byte message, the limit is 259")
            }
            #expect(entry != nil, "the refusal must be logged with its reason")
            try await Base.honestRound(port: port, service: service)
        }
    }

    // Finding 2: one identity may hold one live connection. A second one, even for another task, is refused with
    // alreadyJoined; once the first closes, the identity may connect again.
    @Test("one identity holds one connection: a second one, for any task, is refused with alreadyJoined")
    func oneConnectionPerIdentity() async throws {
        try await Base.withService(tasks: [Base.task(clients: Base.honestCount), Base.sideTask]) { service, port, _ in
            try await Base.connect(port: port, as: Base.intruder) { session, receiver in
                try await Self.join("side", session, &receiver)
                let second = try await Base.connect(port: port, as: Base.intruder) { session, receiver in
                    try await session.send(JoinRequest(taskName: "sum").encoded)
                    return try JoinResponse(decoding: try #require(try await receiver.receive(within: .seconds(5))))
                }
                guard case let .refused(refusal, reason) = second.result else {
                    Issue.record("expected a refusal, got \(second)")
                    return
                }
                #expect(refusal == .alreadyJoined)
                #expect(reason.contains("already has a connection"))
            }
            // The first connection is gone: the identity is free again.
            try await Base.connect(port: port, as: Base.intruder) { session, receiver in
                var attempts = 0
                while true {
                    try await session.send(JoinRequest(taskName: "side").encoded)
                    let answer = try JoinResponse(decoding: try #require(try await receiver.receive(within: .seconds(5))))
                    if answer.result == .accepted { break }
                    attempts += 1
                    try #require(attempts < 1, "the identity was not freed when its connection closed: \(answer)")
                }
            }
            try await Base.honestRound(port: port, service: service)
        }
    }

    // Connections from one address beyond its limit are closed at accept, before any handshake; another address
    // (127.0.0.2, on loopback) is still served, and the honest round (from 127.0.0.1, once the flood is gone) runs.
    @Test("connections from one address beyond its limit are closed at accept; other addresses are served")
    func perAddressLimit() async throws {
        let recorder = EventRecorder()
        try await Base.withService(
            tasks: [Base.task(clients: Base.honestCount)], maximumConnectionsPerAddress: Base.honestCount,
            observers: [recorder]
        ) { service, port, logs in
            var held: [any Channel] = []
            for _ in 0..<Base.honestCount {
                held.append(try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                    .connect(host: "127.0.0.1", port: port).get())
            }
            // The coordinator has accepted them all before the next one.
            #expect(await recorder.openConnections(Base.honestCount))
            let refused = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connect(host: "127.0.0.1", port: port).get()
            try await refused.closeFuture.get()  // closed by the coordinator
            let entry = await Base.waitForLog(logs) { $0.message.contains("too many connections from one address") }
            #expect(entry?.metadata["address"] == "127.0.0.1")
            // Another loopback address still gets a handshake.
            let other = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .bind(to: try SocketAddress(ipAddress: "127.0.0.2", port: 0))
                .connectTimeout(.seconds(5))
                .connect(host: "127.0.0.1", port: port) { channel in
                    channel.eventLoop.makeCompletedFuture { try SecureTransport.configure(channel, limits: Base.limits) }
                }
            try await SecureTransport.initiate(
                other, identity: Base.intruder, expectedPeer: Base.coordinatorKey.verifyingKey, limits: Base.limits
            ) { _, _ in }
            for channel in held { try? await channel.close() }
            // The service releases a closed connection's slot when it sees the close; until then the honest
            // clients, from the same address, would be refused.
            try #require(await recorder.openConnections(0),
                         "the held connections were never released: \(service.openConnectionCount) still counted")
            try await Base.honestRound(port: port, service: service)
        }
    }

    // Finding 6: a client revoked while it waits in the queue is taken out of it at once (its connection closed), so
    // the next round is made of the honest clients only and their sum is released.
    @Test("revoking a waiting client removes it from the queue at once")
    func revokedWhileQueued() async throws {
        try await Base.withService(tasks: [Base.task(clients: Base.honestCount)]) { service, port, _ in
            try await Base.connect(port: port, as: Base.intruder) { session, receiver in
                try await Self.join("sum", session, &receiver)
                let response = await service.handleAdmin(
                    .revoke(publicKey: Base.intruder.verifyingKey.rawRepresentation), actor: "test")
                #expect(response.status == .ok, "\(response.body)")
                #expect(response.body.contains("sum: queue"), "\(response.body)")
                let withdrawn = await Self.withdrawn(&receiver, within: .seconds(5))
                #expect(withdrawn?.refusal == .revoked, "the revoked client must be told, then closed: \(String(describing: withdrawn))")
            }
            let (record, _) = try await Base.honestRound(port: port, service: service)
            #expect(!record.survivorIdentities.contains("\(Base.intruder.verifyingKey)"))
        }
    }

    // A task's queue is bounded (issue 12: the spec'd queueFull refusal was never sent, and any number of enrolled
    // clients could wait, each holding a connection): a join beyond max_waiting is refused with queueFull.
    @Test("a join beyond the task's max_waiting is refused with queueFull")
    func queueFull() async throws {
        let bounded = TaskConfiguration(
            name: "bounded", dimension: 4, maximumInput: 10, graph: .complete, minimumClients: 3, maximumClients: 5,
            gatherWindow: .seconds(60), maximumWaiting: 3)
        try await Base.withService(tasks: [Base.task(clients: Base.honestCount), bounded]) { _, port, _ in
            let keys = [Base.intruder, Base.honest[0], Base.honest[1], Base.honest[2]]
            var answers: [JoinResponse] = []
            try await withThrowingTaskGroup(of: Void.self) { waiting in
                // The first three stay queued until the fourth has its answer (a fixed wait raced the fourth's
                // handshake under ThreadSanitizer: the first client had left the queue when the fourth joined).
                var holds: [AsyncStream<Void>.Continuation] = []
                defer { for hold in holds { hold.finish() } }
                for key in keys.prefix(3) {
                    let (joined, release) = AsyncStream.makeStream(of: JoinResponse.self)
                    let (stay, hold) = AsyncStream.makeStream(of: Void.self)
                    holds.append(hold)
                    waiting.addTask {
                        try await Base.connect(port: port, as: key) { session, receiver in
                            try await session.send(JoinRequest(taskName: "bounded").encoded)
                            release.yield(try JoinResponse(decoding: try #require(try await receiver.receive(within: .seconds(5)))))
                            release.finish()
                            for await _ in stay {}
                        }
                    }
                    for await answer in joined { answers.append(answer) }
                }
                let fourth = try await Base.connect(port: port, as: keys[3]) { session, receiver in
                    try await session.send(JoinRequest(taskName: "bounded").encoded)
                    return try JoinResponse(decoding: try #require(try await receiver.receive(within: .seconds(5))))
                }
                #expect(answers.map(\.result) == Array(repeating: .accepted, count: 3))
                guard case let .refused(refusal, reason) = fourth.result else {
                    Issue.record("expected queueFull, got \(fourth)")
                    return
                }
                #expect(refusal == .queueFull)
                #expect(reason.contains("3 clients already wait"))
                for hold in holds { hold.finish() }
            }
        }
    }

    // Issue 12: a task that had run its configured rounds still queued new joins, and those clients waited until the
    // coordinator closed their connections, never told why; the spec'd shuttingDown refusal was never sent.
    @Test("a join to a task that has run its configured rounds is refused with shuttingDown")
    func joinAfterLastRound() async throws {
        try await Base.withService(tasks: [Base.task(clients: Base.honestCount, rounds: 1), Base.sideTask]) { service, port, _ in
            try await Base.honestRound(port: port, service: service)
            // The scheduler stops just after filing the round: a join racing that moment is queued and then closed,
            // so try again until the refusal comes.
            var refusal: (JoinResponse.Refusal, String)?
            for _ in 0..<50 where refusal == nil {
                let answer = try await Base.connect(port: port, as: Base.intruder) { session, receiver in
                    try await session.send(JoinRequest(taskName: "sum").encoded)
                    // Every join is answered at once; the wait is long only for ThreadSanitizer on a busy machine
                    // (5 s once ran out there).
                    let answer = try JoinResponse(decoding: try #require(try await receiver.receive(within: .seconds(30))))
                    if answer.result == .accepted { _ = await Self.closed(&receiver, within: .seconds(5)) }
                    return answer
                }
                if case let .refused(code, reason) = answer.result { refusal = (code, reason) }
            }
            let (code, reason) = try #require(refusal, "a join after the last round was never refused")
            #expect(code == .shuttingDown)
            #expect(reason.contains("no more rounds"))
        }
    }

    // A client in a round that announces its phase's message at the allowed size and then stalls holds its
    // reservation only until the body deadline (grace + size at the minimum rate): it is closed as too slow,
    // dropped, and the round releases the honest sum.
    @Test("a client that announces an allowed message and stalls is closed at its body deadline")
    func stalledBody() async throws {
        var limits = Base.limits
        limits.receiveGrace = .milliseconds(500)
        let task = Base.task(clients: Base.honestCount + 1)
        try await Base.withService(tasks: [task], limits: limits) { service, port, logs in
            let (record, _) = try await Base.honestRound(port: port, service: service) {
                // The masked input at its exact size, of which only 8 bytes arrive.
                let (report, closedAfter) = try await Self.announceInRound(
                    port: port, type: 0x43, announced: { $0.encoded.count }, carrying: { Array($0.encoded.prefix(8)) })
                // Closed, not left to the phase deadline: the logged reason below says which deadline closed it (a
                // bound on the time would measure the machine — under ThreadSanitizer on two cores it took 5.4 s).
                #expect(closedAfter != nil, "the stalled connection was not closed within 10 s")
                return report
            }
            #expect(record.survivors.count == Base.honestCount)
            let entry = await Base.waitForLog(logs) {
                $0.message == "connection closed" && ($0.metadata["reason"] ?? "").contains("before the message's deadline")
            }
            #expect(entry != nil, "the stall must be logged with its reason")
        }
    }
}

/// The pure parts of admission: the connection registry and the log rate limiter.
@Suite("Connection registry and log rate limit")
struct ConnectionRegistryTests {
    @Test func limitsPerAddressAndInAll() {
        let registry = ConnectionRegistry(maximumConnections: 3, maximumPerAddress: 2)
        #expect(registry.admit(address: "a") == nil)
        #expect(registry.admit(address: "a") == nil)
        #expect(registry.admit(address: "a") == .tooManyFromAddress(limit: 2))
        #expect(registry.admit(address: "b") == nil)
        #expect(registry.admit(address: "c") == .tooManyConnections(limit: 3))
        registry.release(address: "a")
        #expect(registry.admit(address: "a") == nil)
        #expect(registry.count == 3)
    }

    @Test func oneClaimPerIdentity() {
        let registry = ConnectionRegistry(maximumConnections: 10, maximumPerAddress: 10)
        let key = ServiceHarness.intruder.verifyingKey
        #expect(registry.claim(key))
        #expect(!registry.claim(key))
        registry.unclaim(key)
        #expect(registry.claim(key))
    }

    @Test func rateLimitCountsWhatItLeavesOut() {
        let limiter = LogRateLimiter(limit: 2, window: .seconds(60))
        let start = ContinuousClock.now
        #expect(limiter.admit(now: start) == (true, 0))
        #expect(limiter.admit(now: start + .seconds(1)) == (true, 0))
        #expect(limiter.admit(now: start + .seconds(2)) == (false, 0))
        #expect(limiter.admit(now: start + .seconds(3)) == (false, 0))
        // The next window reports the two left out, and logs again.
        #expect(limiter.admit(now: start + .seconds(61)) == (true, 2))
    }
}
