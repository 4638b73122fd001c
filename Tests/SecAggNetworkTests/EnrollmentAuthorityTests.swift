import Foundation
import Logging
import SecAggClient
@testable import SecAggCoordinator
import SecAggCrypto
import SecAggIdentity
import SecAggProtocol
import SecAggSimulation
import SecAggTransport
import SecAggWire
import SecAggTesting
import Testing

/// Issue 11 (spec gap): an enrollment authority configured for `secaggd` (`enrollment.authority`, endorsements in the
/// enrollment list) and for clients (`--enrollment-authority`), so that clients accept only neighbours the authority
/// endorsed (SPEC §2.1, §5.1).
@Suite("Enrollment authority")
struct EnrollmentAuthorityTests {
    static let authority: Ed25519.SigningKey = {
        var random = SeededRandom(seed: 2024, stream: "enrollment-authority")
        return Ed25519.SigningKey(using: &random)
    }()
    static let impostor: Ed25519.SigningKey = {
        var random = SeededRandom(seed: 2024, stream: "not-the-authority")
        return Ed25519.SigningKey(using: &random)
    }()

    static func entry(_ client: Ed25519.SigningKey, by signer: Ed25519.SigningKey? = authority, label: String) -> String {
        let key = client.verifyingKey
        guard let signer else { return "\(key) \(label)" }
        return "\(key) endorsement=\(hexString(Endorsement.sign(key, by: signer))) \(label)"
    }

    /// Parses a configuration whose enrollment file holds `lines`, with `enrollment.authority` when `authority`.
    static func parse(lines: [String], authority: Bool) throws -> DaemonConfiguration {
        let (folder, text) = try TestFiles.daemonConfiguration()
        try lines.joined(separator: "\n").write(
            to: folder.appendingPathComponent("enrolled.txt"), atomically: true, encoding: .utf8)
        let enrollment = "enrollment: {file: enrolled.txt"
            + (authority ? ", authority: \"\(Self.authority.verifyingKey)\"}" : "}")
        let configured = text.replacingOccurrences(
            of: "enrollment:\n  keys: [\"\(ServiceHarness.honest[0].verifyingKey)\"]", with: enrollment)
        #expect(configured != text)
        return try DaemonConfiguration.parse(configured, relativeTo: folder, environment: [:])
    }

    static func problems(lines: [String], authority: Bool) -> [String] {
        do {
            _ = try parse(lines: lines, authority: authority)
            return []
        } catch let error as CoordinatorConfigurationError {
            return error.problems
        } catch {
            return ["\(error)"]
        }
    }

    @Test("endorsed entries are read with their labels; the endorsements are kept for the roster")
    func endorsedEntries() throws {
        let clients = Array(ServiceHarness.honest.prefix(2))
        let configuration = try Self.parse(
            lines: [Self.entry(clients[0], label: "phone one"), Self.entry(clients[1], label: "phone-two")], authority: true)
        let settings = configuration.coordinator
        #expect(settings.enrollmentAuthority == Self.authority.verifyingKey)
        #expect(settings.enrolled[clients[0].verifyingKey] == "phone one")
        #expect(settings.enrolled[clients[1].verifyingKey] == "phone-two")
        for client in clients {
            let endorsement = try #require(settings.endorsements[client.verifyingKey])
            #expect(Endorsement.isValid(endorsement, of: client.verifyingKey.rawRepresentation, by: Self.authority.verifyingKey))
        }
    }

    @Test("a missing, foreign, malformed or unconfigured endorsement is refused, each with the entry's label")
    func refusedEntries() {
        let client = ServiceHarness.honest[0]
        let missing = Self.problems(lines: [Self.entry(client, by: nil, label: "bare")], authority: true)
        #expect(missing.contains { $0.contains("(bare)") && $0.contains("no endorsement") }, "\(missing)")
        let foreign = Self.problems(lines: [Self.entry(client, by: Self.impostor, label: "forged")], authority: true)
        #expect(foreign.contains { $0.contains("(forged)") && $0.contains("not the enrollment authority's signature") }, "\(foreign)")
        let malformed = Self.problems(lines: ["\(client.verifyingKey) endorsement=abcd short"], authority: true)
        #expect(malformed.contains { $0.contains("(short)") && $0.contains("128 hex digits") }, "\(malformed)")
        let unconfigured = Self.problems(lines: [Self.entry(client, label: "orphan")], authority: false)
        #expect(unconfigured.contains { $0.contains("(orphan)") && $0.contains("enrollment.authority is not set") }, "\(unconfigured)")
    }

    /// Runs a service whose honest clients are all endorsed (or none, without an authority) while `body` runs.
    static func withService<T: Sendable>(
        endorsing: Bool, _ body: @Sendable (CoordinatorService, Int) async throws -> T
    ) async throws -> T {
        var enrolled: [Ed25519.VerifyingKey: String] = [:]
        var endorsements: [Ed25519.VerifyingKey: [UInt8]] = [:]
        for (index, key) in ServiceHarness.honest.enumerated() {
            enrolled[key.verifyingKey] = "honest-\(index)"
            if endorsing { endorsements[key.verifyingKey] = Endorsement.sign(key.verifyingKey, by: authority) }
        }
        enrolled[ServiceHarness.intruder.verifyingKey] = "enrolled but not endorsed"
        var settings = CoordinatorSettings(
            host: "127.0.0.1", port: 0, identity: ServiceHarness.coordinatorKey, enrolled: enrolled,
            tasks: [ServiceHarness.task(clients: ServiceHarness.honestCount)], limits: ServiceHarness.limits)
        if endorsing {
            settings.enrollmentAuthority = authority.verifyingKey
            settings.endorsements = endorsements
        }
        let service = try CoordinatorService(settings: settings, logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() })
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask {
                try await service.run()
                return nil
            }
            let result = try await body(service, try await service.listeningPort())
            group.cancelAll()
            while true {
                do { if try await group.next() == nil { break } } catch { continue }
            }
            return result
        }
    }

    static func client(_ key: Ed25519.SigningKey, port: Int, requiringAuthority: Bool) -> SecAggClient {
        ServiceHarness.client(
            key, port: port, policy: ClientPolicy(enrollmentAuthority: requiringAuthority ? authority.verifyingKey : nil),
            connectAttempts: 1)
    }

    // Issue 11: with an enrollment authority, `secagg admin enroll` was refused outright (endorsements lived in the
    // configuration file only). It now takes the endorsement, checks it, and keeps it in the store; the client then
    // passes the handshake (here: refused only for the task it names, which needs a completed handshake).
    @Test("admin enroll with an endorsement: checked, stored, and the client passes the handshake", .timeLimit(.minutes(1)))
    func adminEnrollEndorsed() async throws {
        let stranger = ServiceHarness.stranger
        try await Self.withService(endorsing: true) { service, port in
            let missing = await service.handleAdmin(.enroll(publicKey: stranger.verifyingKey.rawRepresentation, label: "s"), actor: "test")
            #expect(missing.status == .failed && missing.body.contains("--endorsement"), "\(missing.body)")
            let forged = Endorsement.sign(stranger.verifyingKey, by: ServiceHarness.intruder)
            let wrong = await service.handleAdmin(
                .enroll(publicKey: stranger.verifyingKey.rawRepresentation, label: "s", endorsement: forged), actor: "test")
            #expect(wrong.status == .invalid, "\(wrong.body)")
            func refusal() async -> JoinResponse.Refusal? {
                let client = ServiceHarness.client(stranger, port: port, task: "no such task", connectAttempts: 1)
                let outcome = await outcomeOf { try await client.participate(input: ServiceHarness.input(0)) }
                guard case let .failure(SecAggClientError.joinRefused(refusal, _)) = outcome else { return nil }
                return refusal
            }
            #expect(await refusal() == .notEnrolled)
            let endorsement = Endorsement.sign(stranger.verifyingKey, by: Self.authority)
            let enrolled = await service.handleAdmin(
                .enroll(publicKey: stranger.verifyingKey.rawRepresentation, label: "s", endorsement: endorsement), actor: "test")
            #expect(enrolled.status == .ok, "\(enrolled.body)")
            #expect(service.store.endorsement(of: stranger.verifyingKey) == endorsement)
            #expect(await refusal() == .unknownTask, "past the handshake now")
        }
        // Without an authority an endorsement would be ignored silently: refused.
        try await Self.withService(endorsing: false) { service, _ in
            let ignored = await service.handleAdmin(
                .enroll(publicKey: stranger.verifyingKey.rawRepresentation, label: "s",
                        endorsement: Endorsement.sign(stranger.verifyingKey, by: Self.authority)), actor: "test")
            #expect(ignored.status == .invalid && ignored.body.contains("no enrollment authority"), "\(ignored.body)")
        }
    }

    @Test("clients that require the authority complete a round whose coordinator relays endorsements", .timeLimit(.minutes(2)))
    func endorsedRound() async throws {
        try await Self.withService(endorsing: true) { _, port in
            // An enrolled identity without an endorsement is refused at its handshake, and told so.
            do {
                _ = try await Self.client(ServiceHarness.intruder, port: port, requiringAuthority: true).participate(input: ServiceHarness.input(0))
                Issue.record("an unendorsed identity joined")
            } catch let SecAggClientError.joinRefused(refusal, _) {
                #expect(refusal == .notEndorsed)
            }
            let receipts = try await withThrowingTaskGroup(of: ParticipationReceipt.self) { group in
                for index in 0..<ServiceHarness.honestCount {
                    group.addTask {
                        try await Self.client(ServiceHarness.honest[index], port: port, requiringAuthority: true)
                            .participate(input: ServiceHarness.input(index))
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(receipts.count == ServiceHarness.honestCount)
            for receipt in receipts {
                #expect(receipt.outcome == .completed(survivorCount: UInt32(ServiceHarness.honestCount)))
            }
        }
    }

    @Test("clients that require the authority refuse neighbours the coordinator relays without endorsements",
          .timeLimit(.minutes(2)))
    func unendorsedNeighbours() async throws {
        try await Self.withService(endorsing: false) { _, port in
            let outcomes = await withTaskGroup(of: String.self) { group in
                for index in 0..<ServiceHarness.honestCount {
                    group.addTask {
                        do {
                            let receipt = try await Self.client(ServiceHarness.honest[index], port: port, requiringAuthority: true)
                                .participate(input: ServiceHarness.input(index))
                            return "\(receipt.outcome)"
                        } catch {
                            return "\(error)"
                        }
                    }
                }
                return await group.reduce(into: []) { $0.append($1) }
            }
            #expect(outcomes.count == ServiceHarness.honestCount)
            // Every client stops at its neighbours' advertisements: a missing endorsement is a bad signature.
            for outcome in outcomes {
                #expect(outcome.contains("endorsement"), "\(outcome)")
            }
        }
    }
}
