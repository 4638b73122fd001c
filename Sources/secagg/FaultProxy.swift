import Foundation
import NIOConcurrencyHelpers
#if canImport(Glibc)
import Glibc
#endif

/// A network fault injected between one client and the coordinator (`secagg bench soak`).
enum InjectedFault: String, Sendable, CaseIterable {
    /// The client's bytes reach the coordinator one at a time (handshake, join, shares, masked input).
    case trickle
    /// At a random phase the client stops reading and writing but its socket stays open until the round ends.
    case vanish
    /// At a random phase the connection is reset (RST, not FIN).
    case reset
}

/// A one-connection TCP relay on loopback between a client and the coordinator that injects an ``InjectedFault``.
/// One thread owns both sockets and polls them, so freezing and resetting never race with a blocked read.
/// Benchmark tooling only: it stops when ``close()`` is called or both sides have closed.
final class FaultProxy: Sendable {
    /// What the relay thread should do next.
    private enum Command: Sendable { case relay, freeze, reset, close }

    /// The port clients connect to.
    let port: Int
    private let listener: Int32
    private let upstreamPort: Int
    private let trickleDelay: Duration?
    private let command = NIOLockedValueBox<Command>(.relay)

    /// Listens on 127.0.0.1 (a free port) and relays the first connection to `127.0.0.1:upstreamPort`, sending
    /// the client's bytes one by one `trickleDelay` apart if given.
    ///
    /// - Throws: ``SocketFailure`` if the listener cannot be set up.
    init(upstreamPort: Int, trickleDelay: Duration?) throws {
        listener = try Socket.listen()
        port = try Socket.localPort(of: listener)
        self.upstreamPort = upstreamPort
        self.trickleDelay = trickleDelay
        Thread.detachNewThread { [self] in relay() }
    }

    /// Stops forwarding in both directions, keeping both sockets open (a client that vanished without closing).
    func freeze() { command.withLockedValue { if $0 == .relay { $0 = .freeze } } }

    /// Resets the coordinator's connection (SO_LINGER 0, then close).
    func reset() { command.withLockedValue { if $0 != .close { $0 = .reset } } }

    /// Closes everything; the relay thread ends.
    func close() { command.withLockedValue { $0 = .close } }

    private func relay() {
        var client: Int32 = -1
        var upstream: Int32 = -1
        var toUpstream: [UInt8] = []
        var sent = 0
        var upstreamShut = false
        var clientClosed = false
        var lastTrickle = ContinuousClock.now
        let tick = trickleDelay ?? .milliseconds(50)
        defer {
            for socket in [listener, client, upstream] where socket >= 0 { _ = Glibc.close(socket) }
        }
        while true {
            let now = command.withLockedValue { $0 }
            if now == .close { return }
            if now == .reset {
                if upstream >= 0 { Socket.abort(upstream); upstream = -1 }
                command.withLockedValue { $0 = .close }
                return
            }
            let relaying = now == .relay
            var descriptors: [pollfd] = []
            if client < 0 {
                descriptors.append(pollfd(fd: listener, events: Int16(POLLIN), revents: 0))
            } else if relaying {
                if !clientClosed && toUpstream.count - sent < 1 << 16 {
                    descriptors.append(pollfd(fd: client, events: Int16(POLLIN), revents: 0))
                }
                descriptors.append(pollfd(fd: upstream, events: Int16(POLLIN), revents: 0))
            }
            let (seconds, attoseconds) = tick.components
            let milliseconds = Int32(max(1, seconds * 1000 + attoseconds / 1_000_000_000_000_000))
            _ = poll(&descriptors, nfds_t(descriptors.count), milliseconds)
            // Read the command again: a client that vanishes freezes the relay before it closes its socket, so an
            // end of stream seen by this poll must not be forwarded.
            guard client < 0 || command.withLockedValue({ $0 == .relay }) else { continue }
            for descriptor in descriptors where descriptor.revents != 0 {
                if descriptor.fd == listener {
                    client = accept(listener, nil, nil)
                    if client >= 0 { upstream = (try? Socket.connect(port: upstreamPort)) ?? -1 }
                    if client >= 0 && upstream < 0 { return }
                } else if descriptor.fd == client {
                    guard let bytes = Socket.receive(client) else { clientClosed = true; continue }
                    toUpstream += bytes
                } else if descriptor.fd == upstream {
                    guard let bytes = Socket.receive(upstream), Socket.send(bytes, to: client) else { return }
                }
            }
            if upstream >= 0, !toUpstream.isEmpty {
                if trickleDelay == nil {
                    guard Socket.send(Array(toUpstream[sent...]), to: upstream) else { return }
                    sent = toUpstream.count
                } else if ContinuousClock.now - lastTrickle >= tick {
                    guard Socket.send([toUpstream[sent]], to: upstream) else { return }
                    sent += 1
                    lastTrickle = .now
                }
                if sent == toUpstream.count {
                    toUpstream.removeAll(keepingCapacity: true)
                    sent = 0
                }
            }
            if clientClosed, toUpstream.isEmpty, upstream >= 0, !upstreamShut {
                upstreamShut = shutdown(upstream, Int32(SHUT_WR)) == 0
            }
        }
    }
}

/// An unauthenticated connection straight to the coordinator that never completes the handshake: either silent,
/// or sending the start of a handshake frame one byte at a time. Records whether the coordinator closed it.
final class StalledConnection: Sendable {
    private let closing = NIOLockedValueBox(false)
    private let closedByPeer = NIOLockedValueBox<Duration?>(nil)

    /// Connects and starts the stall; `byteDelay` nil means silent.
    ///
    /// - Throws: ``SocketFailure`` if it cannot connect.
    init(port: Int, byteDelay: Duration?) throws {
        let socket = try Socket.connect(port: port)
        Thread.detachNewThread { [self] in stall(socket, byteDelay: byteDelay) }
    }

    /// How long after connecting the coordinator closed the connection, if it did.
    var closedByCoordinatorAfter: Duration? { closedByPeer.withLockedValue { $0 } }

    /// Ends the stall and closes the socket.
    func close() { closing.withLockedValue { $0 = true } }

    private func stall(_ socket: Int32, byteDelay: Duration?) {
        defer { _ = Glibc.close(socket) }
        let start = ContinuousClock.now
        // A frame header announcing a 48-byte first handshake message, then bytes that never complete it.
        var pending: [UInt8] = [0, 48] + (0..<46).map { UInt8(truncatingIfNeeded: $0 &* 97) }
        while !closing.withLockedValue({ $0 }) {
            var descriptor = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
            let wait = byteDelay.map { Int32($0.components.seconds * 1000 + $0.components.attoseconds / 1_000_000_000_000_000) } ?? 100
            if poll(&descriptor, 1, max(1, wait)) > 0, Socket.receive(socket) == nil {
                closedByPeer.withLockedValue { $0 = ContinuousClock.now - start }
                return
            }
            if byteDelay != nil, !pending.isEmpty {
                guard Socket.send([pending.removeFirst()], to: socket) else {
                    closedByPeer.withLockedValue { $0 = ContinuousClock.now - start }
                    return
                }
            }
        }
    }
}

/// A socket call failed.
struct SocketFailure: Error, CustomStringConvertible {
    var call: String
    var description: String { "\(call) failed: errno \(errno)" }
}

/// The few blocking POSIX socket calls the soak tooling needs, on IPv4 loopback.
enum Socket {
    static func loopback(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = in_addr_t(UInt32(0x7F00_0001).bigEndian)
        return address
    }

    static func listen() throws -> Int32 {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socket >= 0 else { throw SocketFailure(call: "socket") }
        var address = loopback(port: 0)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, Glibc.listen(socket, 4) == 0 else {
            _ = Glibc.close(socket)
            throw SocketFailure(call: "bind/listen")
        }
        return socket
    }

    static func localPort(of socket: Int32) throws -> Int {
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let status = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(socket, $0, &length) }
        }
        guard status == 0 else { throw SocketFailure(call: "getsockname") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    static func connect(port: Int) throws -> Int32 {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socket >= 0 else { throw SocketFailure(call: "socket") }
        var address = loopback(port: port)
        let status = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard status == 0 else {
            _ = Glibc.close(socket)
            throw SocketFailure(call: "connect")
        }
        return socket
    }

    /// Up to 64 KiB, or nil at end of stream or on error.
    static func receive(_ socket: Int32) -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        let count = buffer.withUnsafeMutableBytes { recv(socket, $0.baseAddress, $0.count, 0) }
        return count > 0 ? Array(buffer.prefix(count)) : nil
    }

    /// Sends all of `bytes`; false if the peer has gone.
    static func send(_ bytes: [UInt8], to socket: Int32) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes {
                Glibc.send(socket, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
            }
            guard sent > 0 else { return false }
            offset += sent
        }
        return true
    }

    /// Closes with SO_LINGER 0, so the peer sees a reset instead of an orderly close.
    static func abort(_ socket: Int32) {
        var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
        _ = setsockopt(socket, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
        _ = Glibc.close(socket)
    }
}
