import Foundation
import Logging
import NIOCore
import ServiceLifecycle
import SecAggCrypto
import SecAggPrivacy
import SecAggProtocol
import SecAggTransport
import SecAggWire

/// Everything `secaggd` needs to run (README "Run a coordinator").
public struct CoordinatorSettings: Sendable {
    /// Address to listen on.
    public var host: String
    /// TCP port; 0 picks a free one (see ``CoordinatorService/listeningPort()``).
    public var port: Int
    /// The coordinator's long-term identity; clients pin its public key.
    public var identity: Ed25519.SigningKey
    /// Clients allowed to connect, with a label for logs.
    public var enrolled: [Ed25519.VerifyingKey: String]
    public var tasks: [TaskConfiguration]
    public var limits: TransportLimits
    /// Connections beyond this are closed as soon as they are accepted.
    public var maximumConnections: Int
    /// Connections from one IP address beyond this are closed as soon as they are accepted, so one address cannot
    /// take every slot (authenticated or not).
    public var maximumConnectionsPerAddress: Int
    /// Where round results are written (nil: only logged).
    public var resultsDirectory: URL?
    /// Most bytes of received messages one round holds at once before its connections stop reading
    /// (backpressure); each round gets at least this, and at least eight of its largest messages, of its own.
    public var inboundBudgetBytes: Int
    /// Who is told about rounds, releases, budget decisions and authentication failures (store, audit, metrics).
    public var observers: [any CoordinatorObserver]
    /// The SQLite store (`store.path` in deploy/secaggd.example.yaml); nil keeps the record in memory only (tests, embedding).
    public var storePath: String?
    /// The admin listener (`secagg admin`); nil: off.
    public var admin: AdminSettings?
    /// The enrollment authority (`enrollment.authority`, SPEC §2.1): when set, a client joins only with a valid
    /// endorsement in ``endorsements``, which the coordinator relays with its advertisement so that clients
    /// configured with the authority can check every neighbour. Nil: no endorsements are relayed.
    public var enrollmentAuthority: Ed25519.VerifyingKey?
    /// Each endorsed client's endorsement by ``enrollmentAuthority`` (64 bytes, checked when the configuration is
    /// read).
    public var endorsements: [Ed25519.VerifyingKey: [UInt8]] = [:]
    /// Why an operator accepts the store as it is although it disagrees with the audit log (`secaggd
    /// --accept-store-divergence REASON`); recorded in the audit log. Nil: a disagreement stops the start.
    public var acceptStoreDivergence: String?

    public init(
        host: String = "127.0.0.1", port: Int = 7461, identity: Ed25519.SigningKey,
        enrolled: [Ed25519.VerifyingKey: String], tasks: [TaskConfiguration], limits: TransportLimits = TransportLimits(),
        maximumConnections: Int = 4096, maximumConnectionsPerAddress: Int = 1024, resultsDirectory: URL? = nil,
        inboundBudgetBytes: Int = 16 << 20, observers: [any CoordinatorObserver] = []
    ) {
        self.host = host
        self.port = port
        self.identity = identity
        self.enrolled = enrolled
        self.tasks = tasks
        self.limits = limits
        self.maximumConnections = maximumConnections
        self.maximumConnectionsPerAddress = maximumConnectionsPerAddress
        self.resultsDirectory = resultsDirectory
        self.inboundBudgetBytes = inboundBudgetBytes
        self.observers = observers
    }
}

/// The coordinator daemon as a swift-service-lifecycle service: it accepts Noise-secured connections from enrolled
/// clients, queues them per task, and runs each task's rounds back to back with the sans-IO protocol core.
///
/// On graceful shutdown it stops accepting, aborts the rounds in flight with the `cancelled` code (the clients
/// are told), closes every connection and returns.
public final class CoordinatorService: Service, Sendable {
    public let settings: CoordinatorSettings
    let logger: Logger
    /// The durable record: clients, tasks, rounds, results, privacy ledgers.
    public let store: CoordinatorStore
    let schedulers: TaskRegistry
    private let listening = BoundPort()
    /// Live connections, per address, and the identities holding one.
    private let connections: ConnectionRegistry
    /// Connections the service counts as open now (accepted and not yet released), for tests and diagnostics.
    var openConnectionCount: Int { connections.count }
    /// Every accepted connection until it closes, so a stop during a burst of connections releases none open.
    private let accepted = ConnectionTracker<ByteBuffer, ByteBuffer>()
    /// Rate limit for what unauthenticated peers can make the log say (refused connections, failed handshakes).
    private let unauthenticatedLog = LogRateLimiter()
    let events: ObserverList
    let results: ResultWriter?
    /// The admin listener's bound port (the same type as the client and metrics listeners publish theirs with).
    let adminListening = BoundPort()

    /// Opens the store (marking the rounds a crash interrupted as aborted and settling their ledger entries),
    /// seeds it with the configuration's clients and tasks, and prepares each task's scheduler.
    ///
    /// - Throws: ``CoordinatorConfigurationError`` if a task is invalid or two tasks share a name, or if the store
    ///   cannot be opened.
    public init(settings: CoordinatorSettings, logger: Logger) throws {
        var problems = settings.tasks.flatMap { $0.problems() }
        let names = settings.tasks.map(\.name)
        if Set(names).count != names.count { problems.append("task names must be unique") }
        // Without configured tasks they come from the admin listener (an operator's `task create`, or a root).
        if settings.tasks.isEmpty, settings.admin == nil { problems.append("at least one task is needed (or an admin listener)") }
        guard problems.isEmpty else { throw CoordinatorConfigurationError(problems: problems) }
        self.settings = settings
        self.logger = logger
        connections = ConnectionRegistry(
            maximumConnections: settings.maximumConnections, maximumPerAddress: settings.maximumConnectionsPerAddress)
        let store = try Self.openStore(settings: settings, logger: logger)
        self.store = store
        events = ObserverList(observers: settings.observers)
        results = settings.resultsDirectory.map { ResultWriter(directory: $0) }
        // Before any new round: what a crash left unpublished is published now (result files, ledger exports,
        // audit records), so the record is whole before clients can ask about it.
        Self.republish(store: store, results: results, events: events, logger: logger)
        if let audit = events.auditLog {
            try Self.crossCheck(store: store, audit: audit, accepting: settings.acceptStoreDivergence, logger: logger)
        }
        schedulers = TaskRegistry()
        for (task, state) in try Self.storedTasks(settings: settings, store: store, logger: logger) {
            schedulers.add(try TaskScheduler(
                task: task, state: state, store: store, results: results, events: events,
                roundBudgetBytes: settings.inboundBudgetBytes, logger: logger))
        }
    }

    /// The port the service listens on, once it does.
    ///
    /// - Throws: ``CoordinatorStartError`` if the service could not bind its address.
    public func listeningPort() async throws -> Int {
        try await listening.port()
    }

    /// Whether the service listens for clients now (for a readiness probe: it does not wait).
    public var isListening: Bool { listening.current != nil }

    private func publish(_ outcome: Result<Int, CoordinatorStartError>) {
        listening.publish(outcome)
    }

    /// The records of the latest rounds a task ran (newest last; at most 100, fewer when the sums are large).
    public func history(of task: String) async -> [RoundRecord] {
        await schedulers[task]?.history ?? []
    }

    /// The records of a task's latest rounds once it has filed at least `count` rounds since the service started
    /// (each filed after its record was published and its clients told), or once the task stops running rounds;
    /// empty for an unknown task. Await it rather than polling ``history(of:)``.
    public func filedRounds(of task: String, atLeast count: Int = 1) async -> [RoundRecord] {
        await schedulers[task]?.records(afterFiling: count) ?? []
    }

    /// The privacy ledger of a task with DP (nil otherwise).
    public func privacyLedger(of task: String) async -> PrivacyBudget? {
        await schedulers[task]?.budget
    }

    public func run() async throws {
        let server: NIOAsyncChannel<FrameChannel, Never>
        do {
            server = try await SecureTransport.listen(
                host: settings.host, port: settings.port, limits: settings.limits, tracker: accepted)
        } catch {
            publish(.failure(CoordinatorStartError(reason: "cannot listen on \(settings.host):\(settings.port): \(error)")))
            throw error
        }
        let bound = server.channel.localAddress?.port ?? settings.port
        let admin: AdminServer?
        do {
            admin = try await bindAdminListener()
        } catch let error as CoordinatorStartError {
            try? await server.channel.close()
            publish(.failure(error))
            throw error
        }
        defer { admin?.stop() }  // if the start fails before the accept loop runs
        if let admin { adminListening.publish(.success(admin.port)) }
        // Each task's budget is visible from the start (metrics gauges, the audit log), not only after a round.
        for scheduler in schedulers.all {
            if let ledger = await scheduler.budget { events.emit(.ledgerLoaded(task: scheduler.name, ledger: ledger)) }
        }
        publish(.success(bound))
        logger.info("listening", metadata: [
            "address": "\(settings.host):\(bound)", "identity": "\(settings.identity.verifyingKey)",
            "tasks": "\(schedulers.names)", "enrolled": "\(store.activeClientCount)",
        ])
        if store.activeClientCount == 0 {
            logger.warning("no client is enrolled: list keys under enrollment, or enroll them with `secagg admin enroll`")
        }

        // When every task has run its configured rounds, stop accepting; the connections still flush their outcomes.
        // (A daemon without configured tasks waits for them from its admin listener: never bounded.)
        let bounded = !settings.tasks.isEmpty && settings.tasks.allSatisfy { $0.rounds != nil }
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { [schedulers] in
                await schedulers.runAll { if bounded { server.channel.close(promise: nil) } }
            }
            if let admin { group.addTask { await self.serveAdmin(admin) } }
            try await withGracefulShutdownHandler {
                try await server.executeThenClose { inbound in
                    for try await connection in inbound {
                        let address = connection.channel.remoteAddress?.ipAddress ?? "unknown"
                        if let refusal = connections.admit(address: address) {
                            refusal.log(address: address, to: logger, limiter: unauthenticatedLog)
                            events.emit(.connectionRefused(remote: address, reason: refusal.code))
                            try? await connection.channel.close()
                            continue
                        }
                        events.emit(.connectionsChanged(open: connections.count))
                        group.addTask {
                            await self.handle(connection)
                            self.connections.release(address: address)
                            self.events.emit(.connectionsChanged(open: self.connections.count))
                        }
                    }
                }
            } onGracefulShutdown: {
                self.logger.info("shutting down: no new connections; aborting rounds in flight")
                server.channel.close(promise: nil)
            }
            // The client listener is closed (shutdown, or every task ran its rounds): so is the admin listener.
            admin?.stop()
            // Connections accepted but not served yet, or still in their handshake or join, end now; clients that
            // joined are told by their task (a round in flight aborts with `cancelled`) and then closed.
            await accepted.closeUnestablished()
            // No new connections. Stop the schedulers: a round in flight aborts with `cancelled` and its clients are
            // told; waiting clients are disconnected. The connection tasks then end once they have flushed.
            schedulers.stopAll()
        }
        logger.info("stopped")
    }

    /// One client connection: handshake, join, then relay messages between the socket and the client's round.
    private func handle(_ channel: FrameChannel) async {
        let remote = channel.channel.remoteAddress.map { "\($0)" } ?? "unknown"
        var logger = self.logger
        logger[metadataKey: "remote"] = "\(remote)"
        let store = self.store
        let (authority, configured) = (settings.enrollmentAuthority, settings.endorsements)
        // An endorsement comes from the configuration file, or from `secagg admin enroll --endorsement` (the store).
        let endorsement: @Sendable (Ed25519.VerifyingKey) -> [UInt8]? = { configured[$0] ?? store.endorsement(of: $0) }
        do {
            try await SecureTransport.serve(
                channel, identity: settings.identity, limits: settings.limits,
                authorize: { key in
                    // The client proved it holds the key, so it may learn the key's standing (SPEC §4.9): a refusal
                    // it can act on instead of a closed connection.
                    func refuse(_ refusal: JoinResponse.Refusal, _ reason: String) -> PeerRefusal {
                        PeerRefusal(reason: reason, notice: JoinResponse(result: .refused(refusal, reason: reason)).encoded)
                    }
                    switch store.enrollmentStatus(of: key) {
                    case .active: break
                    case .revoked: return refuse(.revoked, "identity \(key) was revoked")
                    case .unknown: return refuse(.notEnrolled, "identity \(key) is not enrolled")
                    }
                    if authority != nil, endorsement(key) == nil {
                        return refuse(.notEndorsed, "identity \(key) has no endorsement by the enrollment authority")
                    }
                    return nil
                }
            ) { session, receiver in
                logger[metadataKey: "client"] = "\(store.label(of: session.peer) ?? "?") \(session.peer)"
                // Before the join names a task nothing is known about what the client may send: the first message
                // is held to the largest JoinRequest and the handshake's time limit, and reserves no budget.
                guard let first = try await receiver.receive(
                    within: settings.limits.handshakeTimeout,
                    allowance: { ReceiveAllowance(maximumBytes: JoinRequest.maximumEncodedBytes) }
                ) else { return }
                // A client that lost its connection before a round's outcome asks how the round ended for its input
                // (SPEC §4.10): answered from the store, signed, and the connection closed.
                if first.bytes.count > 2, first.bytes[2] == OutcomeQuery.typeCode {
                    let query: OutcomeQuery
                    do {
                        query = try OutcomeQuery(decoding: first.bytes)
                    } catch {
                        logger.warning("closing: malformed OutcomeQuery", metadata: ["error": "\(error)"])
                        return
                    }
                    let receipt = try outcomeReceipt(for: query.roundID, client: session.peer)
                    try await session.send(receipt.encoded)
                    logger.info("outcome queried", metadata: ["round": "\(query.roundID)", "status": "\(receipt.status)"])
                    return
                }
                let join: JoinRequest
                do {
                    join = try JoinRequest(decoding: first.bytes)
                } catch {
                    logger.warning("closing: the first message is not a valid JoinRequest", metadata: ["error": "\(error)"])
                    return
                }
                // One live connection per identity: a second is refused, whichever task it names.
                guard connections.claim(session.peer) else {
                    try await session.send(JoinResponse(result: .refused(
                        .alreadyJoined, reason: "this identity already has a connection to the coordinator")).encoded)
                    events.emit(.joinRefused(task: join.taskName, identity: "\(session.peer)", reason: "already connected"))
                    logger.info("join refused: identity already connected", metadata: ["task": "\(logSafe(join.taskName))"])
                    return
                }
                let identity = session.peer
                let connections = self.connections
                defer { connections.unclaim(identity) }
                guard let scheduler = schedulers[join.taskName] else {
                    try await session.send(JoinResponse(result: .refused(.unknownTask, reason: "no task named \(join.taskName)")).encoded)
                    events.emit(.joinRefused(task: join.taskName, identity: "\(session.peer)", reason: "unknown task"))
                    logger.info("join refused: unknown task", metadata: ["task": "\(logSafe(join.taskName))"])
                    return
                }
                let participant = Participant(
                    identity: session.peer, endorsement: authority == nil ? [] : endorsement(session.peer) ?? [],
                    session: session,
                    channel: channel.channel, onClose: { connections.unclaim(identity) })
                switch await scheduler.enqueue(participant) {
                case nil:
                    break
                case .alreadyJoined?:
                    try await session.send(JoinResponse(result: .refused(
                        .alreadyJoined, reason: "this identity already waits for or takes part in a round")).encoded)
                    events.emit(.joinRefused(task: join.taskName, identity: "\(session.peer)", reason: "already joined"))
                    logger.info("join refused: identity already joined", metadata: ["task": "\(logSafe(join.taskName))"])
                    return
                case let .queueFull(limit)?:
                    try await session.send(JoinResponse(result: .refused(
                        .queueFull, reason: "\(limit) clients already wait for a round of this task; try again later")).encoded)
                    events.emit(.joinRefused(task: join.taskName, identity: "\(session.peer)", reason: "queue full"))
                    logger.info("join refused: queue full", metadata: ["task": "\(logSafe(join.taskName))", "limit": "\(limit)"])
                    return
                case let .notRunning(reason)?:
                    try await session.send(JoinResponse(result: .refused(.shuttingDown, reason: reason)).encoded)
                    events.emit(.joinRefused(task: join.taskName, identity: "\(session.peer)", reason: "shutting down"))
                    logger.info("join refused: shutting down", metadata: ["task": "\(logSafe(join.taskName))"])
                    return
                }
                accepted.markEstablished(channel.channel)
                try await session.send(JoinResponse(result: .accepted).encoded)
                logger.debug("joined", metadata: ["task": "\(logSafe(join.taskName))"])
                try await relay(participant, receiver: &receiver, scheduler: scheduler, logger: logger)
            }
        } catch let error as TransportError {
            switch error {
            case .handshakeFailed, .handshakeTimedOut, .peerRejected, .malformedHandshakePayload:
                // Anyone can cause these at will: rate-limited in the log (the audit log has its own limit).
                unauthenticatedLog.log(logger, level: .warning, "connection closed", metadata: ["reason": "\(logSafe("\(error)"))"])
                events.emit(.authenticationFailed(remote: remote, reason: "\(error)"))
            default:
                logger.warning("connection closed", metadata: ["reason": "\(logSafe("\(error)"))"])
            }
        } catch {
            logger.debug("connection closed", metadata: ["reason": "\(error)"])
        }
    }

    /// The signed answer to an outcome query (SPEC §4.10) about `client`'s input in round `roundID`, from the store:
    /// `included` only if the round released a sum with the client among its survivors.
    ///
    /// - Throws: ``StoreError`` if the store cannot be read (the connection then closes without an answer).
    func outcomeReceipt(for roundID: RoundID, client: Ed25519.VerifyingKey) throws -> OutcomeReceipt {
        var receipt = OutcomeReceipt(roundID: roundID, status: .unknown)
        let identity = "\(client)"
        if let round = try store.round(id: "\(roundID)"), round.identities.contains(identity) {
            switch round.state {
            case "running":
                receipt.status = .pending
            case "completed":
                if let result = try store.result(roundID: "\(roundID)") {
                    receipt.status = result.survivorIdentities.contains(identity) ? .included : .excluded
                    receipt.survivorCount = UInt32(result.survivorIdentities.count)
                    receipt.sumDigest = AuditLog.sumDigest(result.sum)
                }
            default:
                receipt.status = .aborted
                receipt.abortCode = UInt16(clamping: round.abortCode ?? Int(AbortCode.cancelled.rawValue))
            }
        }
        receipt.signature = settings.identity.signature(for: receipt.signedContent(client: client.rawRepresentation))
            .rawRepresentation
        return receipt
    }

    /// Reads the participant's messages into its round (one at a time) while a child task writes what the round
    /// sends; ends when either side closes.
    private func relay(
        _ participant: Participant, receiver: inout SecureReceiver, scheduler: TaskScheduler, logger: Logger
    ) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for await message in participant.outgoing {
                    try await participant.session.send(message.bytes)
                }
                // The round is over for this participant: everything is flushed, close the connection.
                participant.close()
            }
            defer {
                participant.disconnected()
                participant.close()
            }
            do {
                // What the participant may send is decided when each message starts: nothing while it waits in the
                // queue, the current phase's largest message (from its round's budget) while it is in a round.
                while let message = try await receiver.receive(
                    within: settings.limits.idleTimeout, allowance: { participant.allowance }
                ) {
                    let delivered = await participant.deliver(message.bytes)
                    await message.release()
                    guard delivered else {
                        logger.warning("closing: message received while not in a round")
                        break
                    }
                }
            } catch {
                // Refused by the connection before the round saw it: the round drops the participant for it.
                switch error as? TransportError {
                case let .messageTooLarge(announced, maximum)?:
                    participant.violated(.oversizedMessage(announced: announced, allowed: maximum))
                case .malformedMessage?, .decryptionFailed?:
                    participant.violated(.malformed(.invalidValue(field: "transport", reason: "\(error)")))
                default:
                    break
                }
                await scheduler.remove(participant)
                throw error
            }
            await scheduler.remove(participant)
        }
    }
}

/// The configuration problems found, each one sentence.
public struct CoordinatorConfigurationError: Error, Sendable, CustomStringConvertible {
    public var problems: [String]
    public init(problems: [String]) { self.problems = problems }

    public var description: String { problems.joined(separator: "\n") }
}


/// The service could not start listening.
public struct CoordinatorStartError: Error, Sendable, CustomStringConvertible {
    public var reason: String
    public init(reason: String) { self.reason = reason }
    public var description: String { reason }
}
