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

/// The running admin listener: its bound port and how to stop it.
struct AdminListener: Sendable {
    let port: Int
    let server: NIOAsyncChannel<FrameChannel, Never>
    let task: Task<Void, Never>

    func stop() {
        server.channel.close(promise: nil)
        task.cancel()
    }
}

extension CoordinatorService {
    /// Binds the admin listener if the settings ask for one and serves it until stopped.
    ///
    /// - Throws: ``CoordinatorStartError`` if its address cannot be bound.
    func startAdminListener() async throws -> AdminListener? {
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
        let task = Task {
            await withDiscardingTaskGroup { group in
                do {
                    try await server.executeThenClose { inbound in
                        for try await connection in inbound {
                            group.addTask { await self.serveAdmin(connection, keys: admin.keys) }
                        }
                    }
                } catch {
                    self.logger.debug("admin listener closed", metadata: ["reason": "\(error)"])
                }
                // Stopping cancels the accept loop: close what it accepted and never served (none is released open).
                await tracker.closeUnestablished()
            }
        }
        return AdminListener(port: bound, server: server, task: task)
    }

    /// One admin connection: the handshake (admin keys only), then request, response, … until the operator
    /// closes it or it idles out.
    private func serveAdmin(_ channel: FrameChannel, keys: Set<Ed25519.VerifyingKey>) async {
        let remote = channel.channel.remoteAddress.map { "\($0)" } ?? "unknown"
        do {
            try await SecureTransport.serve(
                channel, identity: settings.identity, limits: settings.limits,
                authorize: { keys.contains($0) ? nil : "\($0) is not an admin key" }
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
        let port = adminBound.load(ordering: .sequentiallyConsistent)
        return port == 0 ? nil : port
    }
}
