import Foundation
import Logging
import NIOCore
import SecAggCrypto
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
}

/// The bound admin listener: its port, and the accept loop the service runs as a child of its task group.
struct AdminListener: Sendable {
    let port: Int
    let server: NIOAsyncChannel<FrameChannel, Never>
    let tracker: ConnectionTracker<ByteBuffer, ByteBuffer>
    let keys: Set<Ed25519.VerifyingKey>

    /// Stops accepting: the accept loop of ``CoordinatorService/serveAdmin(_:)`` ends.
    func stop() {
        server.channel.close(promise: nil)
    }
}

extension CoordinatorService {
    /// Binds the admin listener if the settings ask for one (``serveAdmin(_:)`` then serves it).
    ///
    /// - Throws: ``CoordinatorStartError`` if its address cannot be bound.
    func bindAdminListener() async throws -> AdminListener? {
        guard let admin = settings.admin else { return nil }
        let tracker = ConnectionTracker<ByteBuffer, ByteBuffer>()
        let server: NIOAsyncChannel<FrameChannel, Never>
        do {
            server = try await SecureTransport.listen(
                host: admin.host, port: admin.port, limits: settings.limits, backlog: 16, tracker: tracker)
        } catch {
            throw CoordinatorStartError(reason: "cannot listen for admin connections on \(admin.host):\(admin.port): \(error)")
        }
        let bound = server.channel.localAddress?.port ?? admin.port
        logger.info("admin listening", metadata: ["endpoint": "\(admin.host):\(bound)", "admin_keys": "\(admin.keys.count)"])
        return AdminListener(port: bound, server: server, tracker: tracker, keys: admin.keys)
    }

    /// Accepts admin connections until the listener is stopped, each served as a child task; then closes what it
    /// accepted and never served.
    func serveAdmin(_ listener: AdminListener) async {
        await withDiscardingTaskGroup { group in
            do {
                try await listener.server.executeThenClose { inbound in
                    for try await connection in inbound {
                        group.addTask { await self.serveAdmin(connection, keys: listener.keys) }
                    }
                }
            } catch {
                self.logger.debug("admin listener closed", metadata: ["reason": "\(error)"])
            }
            await listener.tracker.closeUnestablished()
        }
    }

    /// One admin connection: the handshake (admin keys only), then request, response, … until the operator
    /// closes it or it idles out.
    private func serveAdmin(_ channel: FrameChannel, keys: Set<Ed25519.VerifyingKey>) async {
        let remote = channel.channel.remoteAddress.map { "\($0)" } ?? "unknown"
        do {
            try await SecureTransport.serve(
                channel, identity: settings.identity, limits: settings.limits,
                authorize: { key in
                    guard !keys.contains(key) else { return nil }
                    let reason = "\(key) is not an admin key"
                    return PeerRefusal(reason: reason, notice: AdminResponse(status: .unauthorized, body: reason).encoded)
                }
            ) { session, receiver in
                let actor = "admin \(session.peer)"
                while let bytes = try await receiver.receive(within: settings.limits.idleTimeout) {
                    let response: AdminResponse
                    do {
                        response = await handleAdmin(try AdminRequest(decoding: bytes), actor: actor)
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
                events.emit(.authenticationFailed(remote: remote, reason: "admin listener: \(error)"))
            default:
                break
            }
        } catch {
            logger.debug("admin connection closed", metadata: ["remote": "\(remote)", "reason": "\(error)"])
        }
    }
}

extension CoordinatorService {
    /// The admin listener's port, once ``listeningPort()`` has returned (nil without an admin listener).
    public var adminPort: Int? {
        adminListening.current
    }
}
