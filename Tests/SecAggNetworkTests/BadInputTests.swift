import NIOConcurrencyHelpers
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
import Synchronization
import SecAggTesting
import Testing

/// Untrusted network input against a real coordinator service on loopback (BRIEF §7): one misbehaving peer,
/// written with the transport and protocol types directly, next to honest ``SecAggClient``s. Each bad input must
/// get a typed refusal or a dropped connection with a logged reason, and the honest clients' round must still
/// release exactly the sum of the honest survivors' inputs.
@Suite("Bad input against the coordinator service", .serialized)
struct BadInputTests {
    // MARK: (a)-(d): refused before any round

    // Proves an enrolled client whose first message is not a JoinRequest (random bytes, a JoinRequest with a
    // trailing byte, a frame that is not even a ciphertext) is dropped with a logged reason, and a round of
    // honest clients afterwards sums exactly.
    @Test("(a) garbage as the first message closes the connection; the service keeps working")
    func garbageFirstMessage() async throws {
        try await ServiceHarness.withService(tasks: [ServiceHarness.task(clients: ServiceHarness.honestCount)]) { service, port, logs in
            for garbage in [patternedGarbage(40), JoinRequest(taskName: "sum").encoded + [0]] {
                let answer = try await ServiceHarness.connect(port: port, as: ServiceHarness.intruder) { session, receiver in
                    try await session.send(garbage)
                    return await outcomeOf { try await receiver.receive(within: .seconds(5)) }
                }
                #expect(answer.closedWithoutMessage, "garbage \(garbage.prefix(8)) got \(answer)")
            }
            let entry = await ServiceHarness.waitForLog(logs) { $0.message.contains("not a valid JoinRequest") }
            #expect(entry != nil, "the drop must be logged with its reason")
            #expect(logs.entries.filter { $0.message.contains("not a valid JoinRequest") }.count == 2)

            // A frame that is not a ciphertext at all.
            let channel = try await SecureTransport.connect(host: "127.0.0.1", port: port, limits: ServiceHarness.limits)
            try await channel.executeThenClose { inbound, outbound in
                var peer = try await HandshakeByHand.initiate(inbound: inbound, outbound: outbound, identity: ServiceHarness.intruder)
                try await outbound.write(ByteBuffer(bytes: patternedGarbage(64)))
                #expect(try await peer.next() == nil, "the coordinator must close the connection")
            }
            let undecryptable = await ServiceHarness.waitForLog(logs) {
                $0.message == "connection closed" && ($0.metadata["reason"] ?? "").contains("undecryptable")
            }
            #expect(undecryptable != nil)
            try await ServiceHarness.honestRound(port: port, service: service)
        }
    }

    // Proves a JoinRequest for a task the coordinator does not run is answered with refused(.unknownTask)
    // and the connection is closed.
    @Test("(b) a JoinRequest for an unknown task is refused with unknownTask")
    func unknownTask() async throws {
        try await ServiceHarness.withService(tasks: [ServiceHarness.task(clients: ServiceHarness.honestCount)]) { service, port, _ in
            let (response, after) = try await ServiceHarness.connect(port: port, as: ServiceHarness.intruder) { session, receiver in
                try await session.send(JoinRequest(taskName: "no-such-task").encoded)
                let bytes = try #require(try await receiver.receive(within: .seconds(5)))
                let after = await outcomeOf { try await receiver.receive(within: .seconds(5)) }
                return (try JoinResponse(decoding: bytes), after)
            }
            guard case let .refused(refusal, reason) = response.result else {
                Issue.record("expected a refusal, got \(response)")
                return
            }
            #expect(refusal == .unknownTask)
            #expect(reason.contains("no-such-task"))
            #expect(after.closedWithoutMessage)
            try await ServiceHarness.honestRound(port: port, service: service)
        }
    }

    // Proves a second connection with an identity that is already queued is refused with alreadyJoined (the
    // first stays accepted), and the honest round is unaffected.
    @Test("(c) the same identity joining twice is refused with alreadyJoined")
    func joinTwice() async throws {
        try await ServiceHarness.withService(tasks: [ServiceHarness.task(clients: ServiceHarness.honestCount), ServiceHarness.sideTask]) { service, port, _ in
            let channel = try await SecureTransport.connect(host: "127.0.0.1", port: port, limits: ServiceHarness.limits)
            try await SecureTransport.initiate(
                channel, identity: ServiceHarness.intruder, expectedPeer: ServiceHarness.coordinatorKey.verifyingKey, limits: ServiceHarness.limits
            ) { firstSession, firstReceiver in
                try await firstSession.send(JoinRequest(taskName: "side").encoded)
                let first = try JoinResponse(decoding: try #require(try await firstReceiver.receive(within: .seconds(5))))
                #expect(first.result == .accepted)

                let (second, after) = try await ServiceHarness.connect(port: port, as: ServiceHarness.intruder) { session, receiver in
                    try await session.send(JoinRequest(taskName: "side").encoded)
                    let bytes = try #require(try await receiver.receive(within: .seconds(5)))
                    let after = await outcomeOf { try await receiver.receive(within: .seconds(5)) }
                    return (try JoinResponse(decoding: bytes), after)
                }
                guard case let .refused(refusal, _) = second.result else {
                    Issue.record("expected alreadyJoined, got \(second)")
                    return
                }
                #expect(refusal == .alreadyJoined)
                #expect(after.closedWithoutMessage)
                try await ServiceHarness.honestRound(port: port, service: service)
            }
        }
    }

    // Proves an identity that is not enrolled completes no session: the coordinator refuses it at the
    // handshake (logged as peerRejected), the client's first message is a `notEnrolled` refusal (SPEC §4.9) and
    // then the connection closes, and the honest round is unaffected.
    @Test("(d) an unknown identity is rejected at the handshake, and told so")
    func unknownIdentity() async throws {
        try await ServiceHarness.withService(tasks: [ServiceHarness.task(clients: ServiceHarness.honestCount)]) { service, port, logs in
            let (answer, after) = try await ServiceHarness.connect(port: port, as: ServiceHarness.stranger) { session, receiver in
                try? await session.send(JoinRequest(taskName: "sum").encoded)
                let answer = try await receiver.receive(within: .seconds(5))
                return (answer, await outcomeOf { try await receiver.receive(within: .seconds(5)) })
            }
            let refusal = try JoinResponse(decoding: try #require(answer)).result
            #expect(refusal == .refused(.notEnrolled, reason: "identity \(ServiceHarness.stranger.verifyingKey) is not enrolled"))
            #expect(after.closedWithoutMessage, "got \(after)")
            let entry = await ServiceHarness.waitForLog(logs) {
                $0.message == "connection closed" && ($0.metadata["reason"] ?? "").contains("not enrolled")
            }
            #expect(entry != nil, "the refusal must be logged with its reason")
            try await ServiceHarness.honestRound(port: port, service: service)
        }
    }

    // MARK: (e)-(h): dropped in the middle of a round

    // Proves a participant that breaks the protocol mid-round (wrong round id, a duplicate advertisement, a
    // truncated ShareKeys, a masked vector of the wrong length) is dropped with the violation logged, gets no
    // completed outcome, and the honest clients' round releases exactly the sum of the honest inputs.
    @Test("(e)-(h) a violating participant is dropped and the round sums the honest survivors exactly",
          arguments: Misbehaviour.allCases)
    func violationMidRound(_ misbehaviour: Misbehaviour) async throws {
        let task = ServiceHarness.task(clients: ServiceHarness.honestCount + 1, bits: misbehaviour.bits, mode: misbehaviour.mode)
        try await ServiceHarness.withService(tasks: [task]) { service, port, logs in
            let counted = misbehaviour == .forgedConsistencySignature
            let (record, reportOrNil) = try await ServiceHarness.honestRound(port: port, service: service, intruderCounted: counted) {
                try await Self.misbehave(misbehaviour, port: port)
            }
            let report = try #require(reportOrNil)
            let index = try #require(report.index, "the intruder was never invited")
            #expect(report.violated, "the intruder never got to misbehave")
            #expect(record.survivors.contains(index) == counted)
            #expect(!report.sawCompletion, "a dropped participant must not be told its input was counted")
            #expect(!report.endedByTimeout, "the coordinator must close the connection, not leave it idle")
            let violation = await ServiceHarness.waitForLog(logs) {
                $0.message == "protocol violation; closing the connection"
                    && $0.metadata["identity"] == "\(ServiceHarness.intruder.verifyingKey)"
            }
            let reason = violation?.metadata["reason"] ?? ""
            #expect(misbehaviour.loggedReasons.contains { reason.contains($0) }, "logged reason: \(reason)")
        }
    }

    // Proves that in a task with distributed differential-privacy noise a violating participant is dropped just the
    // same, the round releases the honest survivors' sum plus noise (within 10 σ of the exact sum in every entry),
    // and the privacy ledger is charged exactly once, for the one released round.
    @Test("a violating participant in a noisy task: the honest sum is released noised and charged once")
    func violationInNoisyTask() async throws {
        let privacy = TaskPrivacy(
            placement: .distributed, epsilonPerRound: 1, delta: 1e-6, l2Sensitivity: 1000 * Double(ServiceHarness.dimension).squareRoot(),
            budgetEpsilon: 10)
        let task = ServiceHarness.task(clients: ServiceHarness.honestCount + 1, privacy: privacy)
        let results = try TestFiles.folder().appendingPathComponent("results")
        try await ServiceHarness.withService(tasks: [task], resultsDirectory: results) { service, port, _ in
            let (record, reportOrNil) = try await ServiceHarness.honestRound(port: port, service: service, exact: false) {
                try await Self.misbehave(.shortMaskedVector, port: port)
            }
            let report = try #require(reportOrNil)
            #expect(report.violated && !report.sawCompletion)
            let ledger = try #require(await service.privacyLedger(of: "sum"))
            #expect(ledger.entries.count == 1)
            let entry = try #require(ledger.entries.first)
            #expect(entry.status == .released)
            let released = try #require(record.sum)
            let errors = zip(released, ServiceHarness.expectedHonestSum).map { pair in
                Double(pair.0 >= 1 << 31 ? Int64(pair.0) - (1 << 32) : Int64(pair.0)) - Double(pair.1)
            }
            #expect(errors.contains { $0 != 0 }, "the release carries no noise")
            #expect(errors.allSatisfy { abs($0) < 10 * entry.sigma }, "noise beyond 10 σ = \(10 * entry.sigma): \(errors)")
            // The result file gives the release as signed integers (SPEC 5.10) beside the residues, and its noise.
            let file = results.appendingPathComponent("sum").appendingPathComponent("\(record.roundID).json")
            let published = try PublishedResult.decoded(try Data(contentsOf: file))
            #expect(published.residues == released)
            #expect(published.sum == released.map { PublishedResult.signed($0, bits: 32) })
            #expect(published.noise.kind == .distributed && published.noise.variance != nil)
            let sigma = try #require(published.noise.sigma)
            // Calibrated for the minimum survivors; more survivors add more noise, never less.
            #expect(sigma >= 0.99 * entry.sigma, "σ in the file \(sigma), charged for \(entry.sigma)")
            let text = String(decoding: try Data(contentsOf: file), as: UTF8.self)
            #expect(text.contains("\"sum_residues\":"))
        }
    }

    /// What the intruder does once invited.
    enum Misbehaviour: CaseIterable, Sendable, CustomTestStringConvertible {
        /// (e) Its AdvertiseKeys names another round.
        case wrongRound
        /// (f) It sends its AdvertiseKeys twice.
        case duplicateAdvertisement
        /// (g) Its ShareKeys is cut in half.
        case truncatedShareKeys
        /// (h) Its masked vector is one lane short.
        case shortMaskedVector
        /// (h) Its masked vector has one lane too many.
        case longMaskedVector
        /// A lane of its masked vector is 2^32 − 1 in a round of 24-bit lanes (outside the modulus).
        case laneOutsideModulus
        /// Its AdvertiseKeys signature has a flipped bit.
        case forgedAdvertisement
        /// One of its encrypted shares is a byte short.
        case tamperedShare
        /// Its consistency signature has a flipped bit (active mode).
        case forgedConsistencySignature

        /// The round's lane width: 24 bits where a lane must be able to exceed it, else 32.
        var bits: Int { self == .laneOutsideModulus ? 24 : 32 }

        /// The round's mode: active where the misbehaviour is in the consistency check.
        var mode: RoundMode { self == .forgedConsistencySignature ? .active : .honestButCurious }

        /// What the logged reason contains (one of).
        var loggedReasons: [String] {
            switch self {
            case .wrongRound: return ["message for round"]
            // If the intruder's first copy completed the phase, the second arrives in the next phase.
            case .duplicateAdvertisement: return ["duplicate message", "unexpected advertiseKeys"]
            case .truncatedShareKeys: return ["malformed message"]
            case .shortMaskedVector, .longMaskedVector, .laneOutsideModulus: return ["invalid masked vector"]
            case .forgedAdvertisement: return ["bad advertisement signature"]
            case .tamperedShare: return ["invalid share"]
            case .forgedConsistencySignature: return ["bad consistency signature"]
            }
        }

        var testDescription: String {
            switch self {
            case .wrongRound: return "(e) wrong round id"
            case .duplicateAdvertisement: return "(f) duplicate AdvertiseKeys"
            case .truncatedShareKeys: return "(g) truncated ShareKeys"
            case .shortMaskedVector: return "(h) masked vector one lane short"
            case .longMaskedVector: return "(h) masked vector one lane long"
            case .laneOutsideModulus: return "masked vector lane outside the modulus"
            case .forgedAdvertisement: return "forged AdvertiseKeys signature"
            case .tamperedShare: return "encrypted share a byte short"
            case .forgedConsistencySignature: return "forged consistency signature"
            }
        }
    }


    /// Joins as the intruder and follows the protocol with the real client state machine, except for one
    /// deliberate violation; then records what the coordinator does.
    static func misbehave(_ misbehaviour: Misbehaviour, port: Int) async throws -> ServiceHarness.IntruderReport {
        try await ServiceHarness.connect(port: port, as: ServiceHarness.intruder) { session, receiver in
            try await session.send(JoinRequest(taskName: "sum").encoded)
            let joined = try JoinResponse(decoding: try #require(try await receiver.receive(within: .seconds(10))))
            try #require(joined.result == .accepted)
            var machine = ClientStateMachine(configuration: ClientConfiguration(identity: ServiceHarness.intruder), input: ServiceHarness.input(999))
            var random = SystemRandom()
            var report = ServiceHarness.IntruderReport()
            while true {
                let bytes: [UInt8]?
                do {
                    bytes = try await receiver.receive(within: .seconds(15))
                } catch TransportError.idleTimeout {
                    report.endedByTimeout = true
                    return report
                } catch {
                    return report
                }
                guard let bytes else { return report }
                let message = try CoordinatorMessage(decoding: bytes)
                if case let .roundOutcome(outcome) = message, case .completed = outcome.result {
                    report.sawCompletion = true
                }
                if report.violated {
                    report.receivedAfterViolation.append(message.typeName)
                    continue
                }
                if case let .advertiseKeysRequest(request) = message { report.index = request.participant }
                for action in try machine.handle(message, using: &random) {
                    guard case let .send(outgoing) = action else { continue }
                    switch (misbehaviour, outgoing) {
                    case (.wrongRound, .advertiseKeys(var advertisement)):
                        advertisement.roundID = try #require(RoundID(bytes: random.bytes(16)))
                        try await session.send(ClientMessage.advertiseKeys(advertisement).encoded)
                        report.violated = true
                    case (.duplicateAdvertisement, .advertiseKeys):
                        try await session.send(outgoing.encoded)
                        try await session.send(outgoing.encoded)
                        report.violated = true
                    case (.truncatedShareKeys, .shareKeys):
                        let encoded = outgoing.encoded
                        try await session.send(Array(encoded.prefix(encoded.count / 2)))
                        report.violated = true
                    case (.shortMaskedVector, .maskedInput(var masked)):
                        masked.vector.removeLast(4)
                        try await session.send(ClientMessage.maskedInput(masked).encoded)
                        report.violated = true
                    case (.longMaskedVector, .maskedInput(var masked)):
                        masked.vector += [0, 0, 0, 0]
                        try await session.send(ClientMessage.maskedInput(masked).encoded)
                        report.violated = true
                    case (.laneOutsideModulus, .maskedInput(var masked)):
                        masked.vector.replaceSubrange(0..<4, with: [0xff, 0xff, 0xff, 0xff])
                        try await session.send(ClientMessage.maskedInput(masked).encoded)
                        report.violated = true
                    case (.forgedAdvertisement, .advertiseKeys(var advertisement)):
                        advertisement.signature[7] ^= 1
                        try await session.send(ClientMessage.advertiseKeys(advertisement).encoded)
                        report.violated = true
                    case (.tamperedShare, .shareKeys(var shares)):
                        shares.shares[0].ciphertext.removeLast()
                        try await session.send(ClientMessage.shareKeys(shares).encoded)
                        report.violated = true
                    case (.forgedConsistencySignature, .consistencyResponse(var response)):
                        response.signature[7] ^= 1
                        try await session.send(ClientMessage.consistencyResponse(response).encoded)
                        report.violated = true
                    default:
                        try await session.send(outgoing.encoded)
                    }
                }
            }
        }
    }

    // MARK: Stopping after the configured rounds

    // Proves a service configured for one round delivers the RoundOutcome to every client before it stops (it
    // closes the listener and lets the connections flush, rather than cancelling them).
    @Test("a bounded service flushes the last outcome to every client before stopping")
    func boundedServiceFlushesOutcomes() async throws {
        for _ in 0..<6 {
            _ = try await ServiceHarness.withService(tasks: [ServiceHarness.task(clients: ServiceHarness.honestCount, rounds: 1)]) { service, port, _ in
                try await ServiceHarness.honestRound(port: port, service: service)
            }
        }
    }

    // MARK: (i): connection limit

    // Proves that with maximumConnections = 2 a third connection is closed at once (long before the handshake
    // timeout), and that a slot freed by closing one connection is usable again.
    @Test("(i) beyond maximumConnections a connection is closed at once")
    func maximumConnections() async throws {
        let recorder = EventRecorder()
        try await ServiceHarness.withService(
            tasks: [ServiceHarness.task(clients: ServiceHarness.honestCount)], maximumConnections: 2, observers: [recorder]
        ) { _, port, logs in
            // Two connections that hold their slots (handshake not even started).
            let first = try await SecureTransport.connect(host: "127.0.0.1", port: port, limits: ServiceHarness.limits)
            let second = try await SecureTransport.connect(host: "127.0.0.1", port: port, limits: ServiceHarness.limits)
            // The service has accepted and counted both (a fixed wait was too little under ThreadSanitizer: the third
            // then took a slot and met the handshake timeout instead of the limit).
            #expect(await recorder.openConnections(2))

            let start = ContinuousClock.now
            let third = try await SecureTransport.connect(host: "127.0.0.1", port: port, limits: ServiceHarness.limits)
            let thirdEnded = try await third.executeThenClose { inbound, _ in
                var frames = inbound.makeAsyncIterator()
                return await outcomeOf { try await frames.next() }
            }
            let elapsed = ContinuousClock.now - start
            switch thirdEnded {
            case let .success(frame): #expect(frame == nil, "the refused connection must see EOF, not a frame")
            case .failure: break  // a reset is fine too
            }
            #expect(elapsed < .seconds(4), "closed after \(elapsed); the handshake timeout is 15 s")
            #expect(logs.entries.contains { $0.message.contains("too many connections") })

            // Free a slot; a new connection then completes a handshake and a join.
            try await first.executeThenClose { _, _ in }
            // Counted down to one (the second time: the first was when `first` was accepted).
            #expect(await recorder.openConnections(1, times: 2))
            var accepted = false
            for _ in 0..<3 where !accepted {
                let result = await outcomeOf {
                    try await ServiceHarness.connect(port: port, as: ServiceHarness.intruder) { session, receiver in
                        try await session.send(JoinRequest(taskName: "no-such-task").encoded)
                        return try await receiver.receive(within: .seconds(2))
                    }
                }
                if case let .success(bytes?) = result { accepted = (try? JoinResponse(decoding: bytes)) != nil }
            }
            #expect(accepted, "a freed slot must accept a new connection")
            try await second.executeThenClose { _, _ in }
        }
    }

    // MARK: Floods of bytes and connections

    // Proves a message announced larger than the coordinator's maximumMessageBytes ends the connection with
    // messageTooLarge before its body is read (the intruder's own limit lets it try), and the service keeps working.
    @Test("an announced message over maximumMessageBytes closes the connection before its body")
    func oversizedAnnouncement() async throws {
        var small = ServiceHarness.limits
        small.maximumMessageBytes = 64 << 10
        try await ServiceHarness.withService(tasks: [ServiceHarness.task(clients: ServiceHarness.honestCount)], limits: small) { service, port, logs in
            var large = ServiceHarness.limits
            large.maximumMessageBytes = 64 << 20
            let channel = try await SecureTransport.connect(host: "127.0.0.1", port: port, limits: large)
            let answer = try await SecureTransport.initiate(
                channel, identity: ServiceHarness.intruder, expectedPeer: ServiceHarness.coordinatorKey.verifyingKey, limits: large
            ) { session, receiver in
                // 8 MiB of "JoinRequest"; the first fragment announces the size. The rest may fail to go out.
                _ = await outcomeOf { try await session.send([UInt8](repeating: 0x01, count: 8 << 20)) }
                return await outcomeOf { try await receiver.receive(within: .seconds(5)) }
            }
            #expect(answer.closedWithoutMessage, "got \(answer)")
            let entry = await ServiceHarness.waitForLog(logs) {
                $0.message == "connection closed" && ($0.metadata["reason"] ?? "").contains("announced a 8388608-byte message")
            }
            #expect(entry != nil, "the refusal must be logged with its reason")
            try await ServiceHarness.honestRound(port: port, service: service)
        }
    }

    // Proves that a flood of 40 connections at once against a limit of 16, each streaming 128 KiB of garbage frames
    // instead of a handshake, is cut off (a typed handshake error for the admitted, an immediate close past the
    // limit), that every intruder connection ends by itself, and that the service then runs an honest round to the
    // exact sum. (Kept small: a heavier flood slows the loopback tests running beside it.)
    @Test("a flood of connections streaming garbage is cut off; the service keeps working", .timeLimit(.minutes(2)))
    func garbageFlood() async throws {
        let events = EventRecorder()
        try await ServiceHarness.withService(
            tasks: [ServiceHarness.task(clients: ServiceHarness.honestCount)], maximumConnections: 16, observers: [events]
        ) { service, port, logs in
            let ended = await withTaskGroup(of: Bool.self) { group in
                for _ in 0..<40 {
                    group.addTask {
                        guard let channel = try? await SecureTransport.connect(host: "127.0.0.1", port: port, limits: ServiceHarness.limits) else {
                            return true  // refused outright
                        }
                        let closed = try? await channel.executeThenClose { inbound, outbound in
                            for _ in 0..<8 {
                                guard (try? await outbound.write(ByteBuffer(bytes: patternedGarbage(16_384)))) != nil else { break }
                            }
                            // Read until the coordinator closes (it never sends a handshake reply to garbage).
                            var frames = inbound.makeAsyncIterator()
                            while try await frames.next() != nil {}
                            return true
                        }
                        return closed ?? true
                    }
                }
                var count = 0
                for await done in group where done { count += 1 }
                return count
            }
            #expect(ended == 40)
            // Every intruder connection is accounted for: refused at the handshake (the garbage is not a valid first
            // handshake message), or closed at once past the limit. Counted from the events (the log is rate-limited);
            // the service closes a connection before it reports why, so the last reports may trail the closes.
            func counts() -> (refused: Int, overLimit: Int) {
                let refused = events.events.filter {
                    if case let .authenticationFailed(_, reason) = $0 { return reason.contains("handshake") }
                    return false
                }.count
                let overLimit = events.events.filter {
                    if case .connectionRefused(_, .connectionLimit) = $0 { return true }
                    return false
                }.count
                return (refused, overLimit)
            }
            _ = await events.count(40, where: { event in
                switch event {
                case let .authenticationFailed(_, reason): return reason.contains("handshake")
                case .connectionRefused(_, .connectionLimit): return true
                default: return false
                }
            }, within: .seconds(5))
            let (refused, overLimit) = counts()
            #expect(refused > 0, "no garbage connection was refused at the handshake")
            #expect(refused + overLimit == 40, "\(refused) refused at the handshake, \(overLimit) past the limit")
            #expect(logs.entries.filter { $0.message == "connection closed" }.count <= 20, "the log is rate-limited")
            try await ServiceHarness.honestRound(port: port, service: service)
        }
    }
}
