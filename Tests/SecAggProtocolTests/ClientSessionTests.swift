import SecAggCrypto
import SecAggProtocol
import SecAggSimulation
import SecAggWire
import SecAggTesting
import Testing

/// The sans-IO client session (join + round) that the Swift client, the C ABI and the CLI share: its join answers,
/// refusals sent unasked, drop notices (SPEC §4.9, §4.11) and its end.
@Suite("Client session")
struct ClientSessionTests {
    /// A session for the fixture's client 1 that has joined and been invited, with the invitation's actions.
    static func invitedSession() throws -> (ClientSession, RoundFixture, [ClientSession.Action]) {
        var fixture = try RoundFixture()
        try fixture.start()
        let invitation = try #require(fixture.toClients[1]?.first).encoded
        var session = ClientSession(
            configuration: ClientConfiguration(identity: try #require(fixture.identities[1])),
            input: try #require(fixture.inputs[1]), task: "fixture")
        var random = SeededRandom(seed: 3, stream: "session")
        guard case let .send(join)? = session.start().first else {
            Issue.record("the session must start with its JoinRequest")
            return (session, fixture, [])
        }
        #expect(try JoinRequest(decoding: join).taskName == "fixture")
        #expect(session.handle(JoinResponse(result: .accepted).encoded, using: &random) == [.joined])
        let actions = session.handle(invitation, using: &random)
        return (session, fixture, actions)
    }

    @Test("join, invitation, then a drop notice for its round ends the session as dropped, with nothing sent")
    func dropNotice() throws {
        var (session, fixture, invited) = try Self.invitedSession()
        #expect(invited.first == .invited(fixture.parameters.roundID, participant: 1))
        #expect(invited.count == 2, "the invitation, then the AdvertiseKeys to send")
        var random = SeededRandom(seed: 4, stream: "session")
        let notice = DropNotice(roundID: fixture.parameters.roundID, phase: 1, cause: .silent, reason: "too slow")
        let actions = session.handle(notice.encoded, using: &random)
        #expect(actions == [.ended(.dropped(phase: .shareKeys, cause: .silent, reason: "too slow"))])
        #expect(session.receipt == nil && !session.inputSent)
        #expect(session.handle(notice.encoded, using: &random).isEmpty, "an ended session ignores everything")
        _ = fixture
    }

    @Test("a drop notice for another round, or malformed, is a violation: the client leaves with ClientAbort 0x0204")
    func foreignDropNotice() throws {
        for bytes in [
            DropNotice(roundID: try #require(RoundID(bytes: [UInt8](repeating: 9, count: 16))), phase: 1, cause: .silent,
                       reason: "").encoded,
            Array(DropNotice(roundID: try #require(RoundID(bytes: [UInt8](repeating: 9, count: 16))), phase: 1,
                             cause: .silent, reason: "").encoded.dropLast()),
        ] {
            var (session, fixture, _) = try Self.invitedSession()
            var random = SeededRandom(seed: 5, stream: "session")
            let actions = session.handle(bytes, using: &random)
            guard case let .send(abortBytes)? = actions.first, case let .abort(abort) = try ClientMessage(decoding: abortBytes),
                  case .ended(.coordinatorViolation)? = actions.last else {
                Issue.record("expected ClientAbort then a violation, got \(actions)")
                continue
            }
            #expect(abort.roundID == fixture.parameters.roundID && abort.code == AbortCode.coordinatorMisbehaved.rawValue)
            #expect(session.receipt?.outcome == .aborted(code: AbortCode.coordinatorMisbehaved.rawValue, reason: abort.reason))
        }
    }

    @Test("a refusal sent unasked before the join answer, and a malformed join answer, end the session without a send",
          arguments: JoinResponse.Refusal.allCases)
    func refusals(refusal: JoinResponse.Refusal) throws {
        let fixture = try RoundFixture()
        let configuration = ClientConfiguration(identity: try #require(fixture.identities[1]))
        var random = SeededRandom(seed: 6, stream: "session")
        var session = ClientSession(configuration: configuration, input: [1, 2, 3, 4, 5, 6], task: "fixture")
        let actions = session.handle(JoinResponse(result: .refused(refusal, reason: "no")).encoded, using: &random)
        #expect(actions == [.ended(.refused(refusal, reason: "no"))])
        #expect(session.receipt?.outcome == .aborted(code: refusal.rawValue, reason: "no"))

        var garbled = ClientSession(configuration: configuration, input: [1, 2, 3, 4, 5, 6], task: "fixture")
        let ended = garbled.handle([0, 2, 7, 0xFF, 0xFF], using: &random)
        guard ended.count == 1, case .ended(.coordinatorViolation)? = ended.first else {
            Issue.record("expected a violation and nothing to send, got \(ended)")
            return
        }
    }

    @Test("a waiting client's join may be withdrawn (paused task, revoked identity); once invited, a JoinResponse is a violation")
    func withdrawnJoin() throws {
        let fixture = try RoundFixture()
        var random = SeededRandom(seed: 7, stream: "session")
        var waiting = ClientSession(
            configuration: ClientConfiguration(identity: try #require(fixture.identities[1])), input: [1, 2, 3, 4, 5, 6],
            task: "fixture")
        #expect(waiting.handle(JoinResponse(result: .accepted).encoded, using: &random) == [.joined])
        let withdrawal = JoinResponse(result: .refused(.shuttingDown, reason: "paused")).encoded
        #expect(waiting.handle(withdrawal, using: &random) == [.ended(.refused(.shuttingDown, reason: "paused"))])

        var (invited, _, _) = try Self.invitedSession()
        let actions = invited.handle(withdrawal, using: &random)
        guard case .ended(.coordinatorViolation)? = actions.last else {
            Issue.record("a JoinResponse in a round must be a violation, got \(actions)")
            return
        }
    }
}
