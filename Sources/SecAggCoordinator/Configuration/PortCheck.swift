import NIOCore
import NIOPosix

/// Whether a port of the configuration can be listened on now (`secaggd --check-config`): a listening socket is
/// bound, with the options the daemon uses, and closed at once.
public enum PortCheck {
    /// - Returns: nil if `host:port` can be bound (port 0 always can), else the reason, e.g. the port is in use or
    ///   below 1024 without the privilege.
    public static func problem(host: String, port: Int) async -> String? {
        guard port != 0 else { return nil }
        do {
            let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .bind(host: host, port: port).get()
            try? await channel.close()
            return nil
        } catch {
            return "cannot listen on \(host):\(port): \(error)"
        }
    }
}
