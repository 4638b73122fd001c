import Foundation
import Logging
import NIOCore
import SecAggCrypto
import SecAggIdentity
import SecAggTransport
import SecAggWire

/// Where the admin listener binds and which keys may use it (protocol/ADMIN.md).
public struct AdminSettings: Sendable, Hashable {
    /// Address to bind; 127.0.0.1 by default, so only local operators can reach it.
    public var host: String
    /// TCP port; 0 picks a free one (logged as `admin listening address=HOST:PORT`).
    public var port: Int
    /// Ed25519 public keys of the operators (`secagg keygen`); nobody else completes the handshake.
    public var keys: Set<Ed25519.VerifyingKey>

    public init(host: String = "127.0.0.1", port: Int = 7462, keys: Set<Ed25519.VerifyingKey>) {
        self.host = host
        self.port = port
        self.keys = keys
    }

    /// The settings of an `admin` configuration section (key names in problems are `admin.…`): at least one valid
    /// key, a port in 0...65535, a non-empty host (127.0.0.1 by default).
    public static func validated(
        host: String?, port: Int?, keys: [String]?, defaultPort: Int, problems: inout [String]
    ) -> AdminSettings {
        var parsed: [Ed25519.VerifyingKey] = []
        for (position, text) in (keys ?? []).enumerated() {
            do {
                parsed.append(try IdentityFile.publicKey(fromHex: text))
            } catch {
                problems.append("admin.keys[\(position)]: \(error) (use the public key `secagg keygen` printed)")
            }
        }
        if keys?.isEmpty ?? true {
            problems.append("admin.keys: list at least one admin public key (`secagg keygen --out admin.key`), or remove the admin section")
        }
        let port = port ?? defaultPort
        if !(0...65535).contains(port) { problems.append("admin.port must be 0...65535 (0 picks a free port)") }
        let host = host ?? "127.0.0.1"
        if host.isEmpty { problems.append("admin.host must not be empty") }
        return AdminSettings(host: host, port: port, keys: Set(parsed))
    }
}

/// A bound admin listener (protocol/ADMIN.md): Noise-secured with the daemon's identity, admitting only the admin
/// keys, one request → one response. A coordinator serves its admin requests with it, and `secagg-root` its own.
public struct AdminServer: Sendable {
    /// The bound port (the one asked for, or the one the system picked for port 0).
    public let port: Int
    let server: NIOAsyncChannel<FrameChannel, Never>
    let tracker: ConnectionTracker<ByteBuffer, ByteBuffer>
    let settings: AdminSettings
    let identity: Ed25519.SigningKey
    let limits: TransportLimits
    let logger: Logger

    /// Binds the listener.
    ///
    /// - Throws: ``CoordinatorStartError`` if the address cannot be bound.
    public static func bind(
        _ settings: AdminSettings, identity: Ed25519.SigningKey, limits: TransportLimits, logger: Logger
    ) async throws -> AdminServer {
        let tracker = ConnectionTracker<ByteBuffer, ByteBuffer>()
        let server: NIOAsyncChannel<FrameChannel, Never>
        do {
            server = try await SecureTransport.listen(
                host: settings.host, port: settings.port, limits: limits, backlog: 16, tracker: tracker)
        } catch {
            throw CoordinatorStartError(reason: "cannot listen for admin connections on \(settings.host):\(settings.port): \(error)")
        }
        let bound = server.channel.localAddress?.port ?? settings.port
        logger.info("admin listening", metadata: ["endpoint": "\(settings.host):\(bound)", "admin_keys": "\(settings.keys.count)"])
        return AdminServer(
            port: bound, server: server, tracker: tracker, settings: settings, identity: identity, limits: limits,
            logger: logger)
    }

    /// Stops accepting: ``serve(_:authenticationFailed:)`` returns once its connections are done.
    public func stop() {
        server.channel.close(promise: nil)
    }

    /// Accepts admin connections until ``stop()``, each served as a child task with `handle` (given the request and
    /// the actor, "admin <key>"); then closes what it accepted and never served. `authenticationFailed` hears of
    /// handshakes that failed or were refused (remote address, reason).
    public func serve(
        _ handle: @escaping @Sendable (AdminRequest, String) async -> AdminResponse,
        authenticationFailed: @escaping @Sendable (String, String) -> Void = { _, _ in }
    ) async {
        await withDiscardingTaskGroup { group in
            do {
                try await server.executeThenClose { inbound in
                    for try await connection in inbound {
                        group.addTask { await self.serve(connection, handle, authenticationFailed) }
                    }
                }
            } catch {
                logger.debug("admin listener closed", metadata: ["reason": "\(error)"])
            }
            await tracker.closeUnestablished()
        }
    }

    /// One admin connection: the handshake (admin keys only), then request, response, … until the operator
    /// closes it or it idles out.
    private func serve(
        _ channel: FrameChannel, _ handle: @Sendable (AdminRequest, String) async -> AdminResponse,
        _ authenticationFailed: @Sendable (String, String) -> Void
    ) async {
        let remote = channel.channel.remoteAddress.map { "\($0)" } ?? "unknown"
        let keys = settings.keys
        do {
            try await SecureTransport.serve(
                channel, identity: identity, limits: limits,
                authorize: { key in
                    guard !keys.contains(key) else { return nil }
                    let reason = "\(key) is not an admin key"
                    return PeerRefusal(reason: reason, notice: AdminResponse(status: .unauthorized, body: reason).encoded)
                }
            ) { session, receiver in
                let actor = "admin \(session.peer)"
                while let bytes = try await receiver.receive(within: limits.idleTimeout) {
                    let response: AdminResponse
                    do {
                        response = await handle(try AdminRequest(decoding: bytes), actor)
                    } catch {
                        response = AdminResponse(status: .invalid, body: "malformed admin request: \(error)")
                    }
                    try await session.send(response.encoded)
                }
            }
        } catch let error as TransportError {
            logger.warning("admin connection closed", metadata: ["remote": "\(remote)", "reason": "\(logSafe("\(error)"))"])
            switch error {
            case .handshakeFailed, .handshakeTimedOut, .peerRejected, .malformedHandshakePayload:
                authenticationFailed(remote, "admin listener: \(error)")
            default:
                break
            }
        } catch {
            logger.debug("admin connection closed", metadata: ["remote": "\(remote)", "reason": "\(error)"])
        }
    }
}

extension CoordinatorService {
    /// Binds the admin listener if the settings ask for one.
    ///
    /// - Throws: ``CoordinatorStartError`` if its address cannot be bound.
    func bindAdminListener() async throws -> AdminServer? {
        guard let admin = settings.admin else { return nil }
        return try await AdminServer.bind(admin, identity: settings.identity, limits: settings.limits, logger: logger)
    }

    /// Serves the admin listener until it is stopped.
    func serveAdmin(_ listener: AdminServer) async {
        await listener.serve(
            { request, actor in await self.handleAdmin(request, actor: actor) },
            authenticationFailed: { remote, reason in self.events.emit(.authenticationFailed(remote: remote, reason: reason)) })
    }
}

extension CoordinatorService {
    /// The admin listener's port, once ``listeningPort()`` has returned (nil without an admin listener).
    public var adminPort: Int? {
        adminListening.current
    }
}
