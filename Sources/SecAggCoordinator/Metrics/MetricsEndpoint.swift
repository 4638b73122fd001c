import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import SecAggTransport
import ServiceLifecycle

/// Where `secaggd` serves its metrics (the `metrics:` section of the configuration file).
public struct MetricsEndpointSettings: Sendable, Hashable {
    /// Off unless configured: the endpoint needs no secret, so it is opt-in.
    public var enabled: Bool
    /// Loopback by default; bind a routable address only behind a network policy.
    public var host: String
    /// TCP port; 0 picks a free one.
    public var port: Int

    public init(enabled: Bool = false, host: String = "127.0.0.1", port: Int = 9461) {
        self.enabled = enabled
        self.host = host
        self.port = port
    }
}

/// A minimal HTTP/1.1 server for monitoring: `GET /metrics` (Prometheus text exposition, produced by `render`),
/// `GET /healthz` (the process is up) and `GET /readyz` (the coordinator is listening). Anything else is 404
/// (405 for a method other than GET or HEAD).
///
/// Bounded: at most ``maximumConnections`` at once, one request per connection (`Connection: close`), and each
/// connection closed after ``requestTimeout``. It reads no request body.
public final class MetricsEndpoint: Service, Sendable {
    /// The Prometheus text format's content type.
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"
    public static let maximumConnections = 32
    public static let requestTimeout: Duration = .seconds(10)

    private let settings: MetricsEndpointSettings
    private let render: @Sendable () -> [UInt8]
    private let ready: @Sendable () -> Bool
    private let logger: Logger
    private let bound = BoundPort()
    private let connections = IdleEviction()
    private let tracker = ConnectionTracker<HTTPServerRequestPart, HTTPServerResponsePart>()

    /// - Parameters:
    ///   - render: Produces the exposition text (e.g. a Prometheus registry's `emitToBuffer`).
    ///   - ready: Whether the coordinator is ready for clients (answers `/readyz`).
    public init(
        settings: MetricsEndpointSettings, logger: Logger,
        render: @escaping @Sendable () -> [UInt8], ready: @escaping @Sendable () -> Bool = { true }
    ) {
        self.settings = settings
        self.logger = logger
        self.render = render
        self.ready = ready
    }

    /// The port the endpoint listens on, once it does.
    ///
    /// - Throws: ``CoordinatorStartError`` if it could not bind its address.
    public func listeningPort() async throws -> Int {
        try await bound.port()
    }

    private func publish(_ outcome: Result<Int, CoordinatorStartError>) {
        bound.publish(outcome)
    }

    public func run() async throws {
        let server: NIOAsyncChannel<NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>, Never>
        do {
            let tracker = self.tracker
            server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .serverChannelOption(.backlog, value: 16)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .bind(host: settings.host, port: settings.port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                        return tracker.track(try NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>(
                            wrappingChannelSynchronously: channel))
                    }
                }
        } catch {
            publish(.failure(CoordinatorStartError(reason: "cannot listen for metrics on \(settings.host):\(settings.port): \(error)")))
            throw error
        }
        let port = server.channel.localAddress?.port ?? settings.port
        publish(.success(port))
        logger.info("metrics endpoint listening", metadata: ["endpoint": "http://\(settings.host):\(port)/metrics"])
        try await withGracefulShutdownHandler {
            try await withThrowingDiscardingTaskGroup { group in
                try await server.executeThenClose { inbound in
                    for try await connection in inbound {
                        // Full: the oldest connection still waiting for its request makes room, so a flood of idle
                        // connections cannot keep a liveness probe out; refused only if every slot is answering.
                        guard let id = connections.admit(connection.channel, limit: Self.maximumConnections) else {
                            try? await connection.channel.close()
                            continue
                        }
                        group.addTask {
                            await self.serve(connection, id: id)
                            self.connections.remove(id)
                        }
                    }
                }
            }
        } onGracefulShutdown: {
            server.channel.close(promise: nil)
        }
        // Connections accepted but never served when the listener stopped are closed, not released open.
        await tracker.closeUnestablished()
    }

    /// Answers one request, then closes the connection; a connection that has not been answered within
    /// ``requestTimeout`` is closed (a child timer, cancelled when the answer is done).
    private func serve(_ connection: NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>, id: Int) async {
        let channel = connection.channel
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                guard (try? await Task.sleep(for: Self.requestTimeout)) != nil else { return }
                channel.close(promise: nil)
            }
            group.addTask { await self.answer(connection, id: id) }
            await group.next()
            group.cancelAll()
        }
    }

    /// Reads one request and writes its answer.
    private func answer(_ connection: NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>, id: Int) async {
        do {
            try await connection.executeThenClose { inbound, outbound in
                var request: HTTPRequestHead?
                for try await part in inbound {
                    switch part {
                    case let .head(head): request = head
                    case .body: continue
                    case .end:
                        guard let request else { return }
                        connections.answering(id)
                        let (status, body, type) = respond(to: request)
                        var headers = HTTPHeaders()
                        headers.add(name: "Content-Type", value: type)
                        headers.add(name: "Content-Length", value: "\(body.count)")
                        headers.add(name: "Connection", value: "close")
                        try await outbound.write(.head(HTTPResponseHead(version: request.version, status: status, headers: headers)))
                        if request.method != .HEAD {
                            try await outbound.write(.body(.byteBuffer(ByteBuffer(bytes: body))))
                        }
                        try await outbound.write(.end(nil))
                        return
                    }
                }
            }
        } catch {
            logger.debug("metrics connection closed", metadata: ["error": "\(error)"])
        }
    }

    private func respond(to request: HTTPRequestHead) -> (HTTPResponseStatus, [UInt8], String) {
        let plain = "text/plain; charset=utf-8"
        guard request.method == .GET || request.method == .HEAD else {
            return (.methodNotAllowed, Array("only GET and HEAD\n".utf8), plain)
        }
        let path = request.uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        switch path {
        case "/metrics": return (.ok, render(), Self.contentType)
        case "/healthz": return (.ok, Array("ok\n".utf8), plain)
        case "/readyz":
            return ready() ? (.ok, Array("ready\n".utf8), plain)
                : (.serviceUnavailable, Array("not listening yet\n".utf8), plain)
        default: return (.notFound, Array("not found; try /metrics\n".utf8), plain)
        }
    }
}


/// The endpoint's connections in arrival order, and which of them are being answered. When all slots are taken a
/// new connection displaces the oldest one that has not sent a whole request yet: probes send theirs at once, so
/// they are served however many idle connections a flood keeps open.
private final class IdleEviction: Sendable {
    private struct State {
        var next = 0
        /// Connection id → (channel, whether its request is being answered); ids grow with arrival.
        var live: [Int: (channel: any Channel, answering: Bool)] = [:]
    }

    private let state = NIOLockedValueBox(State())

    /// Registers `channel`, closing the oldest idle connection if `limit` are open; nil if every one is answering.
    func admit(_ channel: any Channel, limit: Int) -> Int? {
        let (id, evicted): (Int?, (any Channel)?) = state.withLockedValue { state in
            var evicted: (any Channel)?
            if state.live.count >= limit {
                guard let oldest = state.live.filter({ !$0.value.answering }).keys.min() else { return (nil, nil) }
                evicted = state.live.removeValue(forKey: oldest)?.channel
            }
            let id = state.next
            state.next += 1
            state.live[id] = (channel, false)
            return (id, evicted)
        }
        evicted?.close(promise: nil)
        return id
    }

    /// Marks a connection whose request is complete and being answered (it is not displaced from then on).
    func answering(_ id: Int) {
        state.withLockedValue { state in state.live[id]?.answering = true }
    }

    /// Forgets a connection that ended.
    func remove(_ id: Int) {
        _ = state.withLockedValue { state in state.live.removeValue(forKey: id) }
    }
}
