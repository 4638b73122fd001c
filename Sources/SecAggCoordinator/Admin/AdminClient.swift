import Foundation
import NIOCore
import SecAggCrypto
import SecAggTransport
import SecAggWire

/// Why an admin session failed (protocol/ADMIN.md §1), in words an operator can act on.
public enum AdminClientError: Error, Sendable, CustomStringConvertible {
    /// No TCP connection could be made.
    case unreachable(endpoint: String, reason: String)
    /// The listener proved a key other than the pinned one.
    case wrongPeer(endpoint: String, reason: String)
    /// The daemon refused this admin key.
    case unauthorized(key: Ed25519.VerifyingKey)
    /// The connection closed before any answer, without a refusal.
    case closedUnanswered(endpoint: String, reason: String)
    /// The session failed after at least one answer, or an answer could not be decoded.
    case failed(endpoint: String, reason: String)

    public var description: String {
        switch self {
        case let .unreachable(endpoint, reason):
            return "cannot reach the admin listener at \(endpoint): \(reason). Is the daemon running, with an `admin` "
                + "section (and this address) in its configuration?"
        case let .wrongPeer(endpoint, reason):
            return "the daemon at \(endpoint) is not the one whose key is pinned (\(reason))"
        case let .unauthorized(key):
            return "the admin key \(key) is not in the daemon's admin.keys"
        case let .closedUnanswered(endpoint, reason):
            return "the daemon at \(endpoint) closed the connection before answering (\(reason)): it may be stopping or "
                + "overloaded (its handshake timeout), or the address may not be its admin listener"
        case let .failed(endpoint, reason):
            return "admin connection to \(endpoint) failed: \(reason)"
        }
    }
}

/// One operator's (or a root's) way into a daemon's admin listener: TCP, the Noise handshake with the daemon's key
/// pinned, then request → response (protocol/ADMIN.md). Used by `secagg admin` and by `secagg-root` for its shards.
public struct AdminClient: Sendable {
    public var host: String
    public var port: Int
    /// The admin identity (its public key must be in the daemon's admin.keys).
    public var identity: Ed25519.SigningKey
    /// The daemon's identity public key.
    public var daemonKey: Ed25519.VerifyingKey
    /// Bounds the connection, the handshake and each answer.
    public var timeout: Duration

    public init(host: String, port: Int, identity: Ed25519.SigningKey, daemonKey: Ed25519.VerifyingKey, timeout: Duration) {
        self.host = host
        self.port = port
        self.identity = identity
        self.daemonKey = daemonKey
        self.timeout = timeout
    }

    var endpoint: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// Opens one authenticated session and runs `body` with a request → response function. Every status but
    /// `unauthorized` is returned as the daemon gave it.
    ///
    /// - Throws: ``AdminClientError``, or what `body` throws.
    public func responses<Result: Sendable>(
        _ body: (_ exchange: (AdminRequest) async throws -> AdminResponse) async throws -> Result
    ) async throws -> Result {
        var limits = TransportLimits()
        limits.maximumMessageBytes = maximumAdminResponseBytes
        limits.idleTimeout = timeout
        limits.handshakeTimeout = timeout
        let channel: FrameChannel
        do {
            channel = try await SecureTransport.connect(host: host, port: port, limits: limits, timeout: timeout)
        } catch {
            throw AdminClientError.unreachable(endpoint: endpoint, reason: "\(error)")
        }
        var answered = false
        let key = identity.verifyingKey
        do {
            return try await SecureTransport.initiate(channel, identity: identity, expectedPeer: daemonKey, limits: limits) {
                session, receiver in
                try await body { request in
                    try await session.send(request.encoded)
                    guard let bytes = try await receiver.receive(within: limits.idleTimeout) else {
                        throw TransportError.connectionClosed
                    }
                    answered = true
                    let response: AdminResponse
                    do {
                        response = try AdminResponse(decoding: bytes)
                    } catch {
                        throw AdminClientError.failed(endpoint: endpoint, reason: "the daemon's answer is malformed: \(error)")
                    }
                    if response.status == .unauthorized { throw AdminClientError.unauthorized(key: key) }
                    return response
                }
            }
        } catch let error as TransportError {
            switch error {
            case .peerRejected:
                throw AdminClientError.wrongPeer(endpoint: endpoint, reason: "\(error)")
            case .connectionClosed, .truncatedFrame, .handshakeFailed:
                if answered { throw AdminClientError.failed(endpoint: endpoint, reason: "\(error)") }
                throw AdminClientError.closedUnanswered(endpoint: endpoint, reason: "\(error)")
            default:
                throw AdminClientError.failed(endpoint: endpoint, reason: "\(error)")
            }
        } catch let error as AdminClientError {
            throw error
        } catch {
            // What `body` threw is its own; anything else before an answer is the session's.
            if answered { throw error }
            throw AdminClientError.closedUnanswered(endpoint: endpoint, reason: "\(error)")
        }
    }

    /// Sends one request in its own session.
    ///
    /// - Throws: ``AdminClientError``.
    public func exchange(_ request: AdminRequest) async throws -> AdminResponse {
        try await responses { exchange in try await exchange(request) }
    }
}
