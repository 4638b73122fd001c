import SecAggCrypto
import NIOConcurrencyHelpers

/// The coordinator's live connections: how many in all and per remote address (checked when a connection is
/// accepted, before its handshake), and which client identities hold one (checked after the handshake), so that
/// one address cannot take every connection slot and one identity cannot hold more than one connection (SPEC
/// §2.6.5).
final class ConnectionRegistry: Sendable {
    /// Why an accepted connection is closed at once.
    enum Refusal: Equatable, CustomStringConvertible {
        case tooManyConnections(limit: Int)
        case tooManyFromAddress(limit: Int)

        /// The event's reason code.
        var code: ConnectionRefusal {
            switch self {
            case .tooManyConnections: return .connectionLimit
            case .tooManyFromAddress: return .addressLimit
            }
        }

        var description: String {
            switch self {
            case let .tooManyConnections(limit): return "too many connections (limit \(limit))"
            case let .tooManyFromAddress(limit): return "too many connections from one address (limit \(limit))"
            }
        }
    }

    private struct State {
        var total = 0
        var perAddress: [String: Int] = [:]
        var identities: Set<Ed25519.VerifyingKey> = []
    }

    let maximumConnections: Int
    let maximumPerAddress: Int
    private let state = NIOLockedValueBox(State())

    init(maximumConnections: Int, maximumPerAddress: Int) {
        self.maximumConnections = max(1, maximumConnections)
        self.maximumPerAddress = max(1, maximumPerAddress)
    }

    /// Counts a new connection from `address` (its IP address, without the port), or says why it is refused.
    /// Every admitted connection is later given back with ``release(address:)``.
    func admit(address: String) -> Refusal? {
        state.withLockedValue { state in
            if state.total >= maximumConnections { return .tooManyConnections(limit: maximumConnections) }
            if state.perAddress[address, default: 0] >= maximumPerAddress {
                return .tooManyFromAddress(limit: maximumPerAddress)
            }
            state.total += 1
            state.perAddress[address, default: 0] += 1
            return nil
        }
    }

    /// Gives back a connection that ``admit(address:)`` counted.
    func release(address: String) {
        state.withLockedValue { state in
            state.total = max(0, state.total - 1)
            let left = state.perAddress[address, default: 1] - 1
            state.perAddress[address] = left > 0 ? left : nil
        }
    }

    /// Marks `identity` as holding a connection; false if it already holds one.
    func claim(_ identity: Ed25519.VerifyingKey) -> Bool {
        state.withLockedValue { $0.identities.insert(identity).inserted }
    }

    /// Frees `identity` for a new connection.
    func unclaim(_ identity: Ed25519.VerifyingKey) {
        _ = state.withLockedValue { $0.identities.remove(identity) }
    }

    /// Connections counted now.
    var count: Int { state.withLockedValue { $0.total } }
}
