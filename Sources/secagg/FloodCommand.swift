import ArgumentParser
import Foundation
import NIOCore
import NIOPosix
import SecAggCrypto
import SecAggIdentity
import SecAggSimulation
import SecAggTransport
import SecAggWire
import NIOConcurrencyHelpers

/// `secagg bench flood`: hostile load against a running `secaggd` while honest clients run a round beside it
/// (Benchmarks/flood.sh runs `secagg bench swarm` for those). Until the daemon exits it keeps `--connections`
/// unauthenticated TCP connections open that never start their handshake (from 127.0.0.2 upwards, so the honest
/// clients' address keeps its own connection allowance), and `--announcers` enrolled clients that, over and over,
/// join a task's queue and announce a 16 MiB message they never send, or announce 64 MiB as their first message.
/// Meanwhile it probes the daemon's `/healthz` and samples its resident memory. Prints one JSON object.
/// A benchmarking tool, not a client.
struct FloodCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "flood",
        abstract: "Hold stalled connections and stalled announcers against a coordinator (benchmarks only).")

    @Option(help: "Unauthenticated connections to hold open.") var connections: Int = 2000
    @Option(help: "Enrolled clients that announce messages and stall.") var announcers: Int = 16
    @Option(help: "Loopback addresses the connections come from (127.0.0.2 upwards).") var addresses: Int = 8
    @Option(help: "Seed for the announcers' identities.") var seed: UInt64 = 1
    @Flag(name: .customLong("print-keys"), help: "Print the announcers' public keys (an enrollment file) and exit.")
    var printKeys = false
    @Option(help: "Coordinator port on 127.0.0.1.") var port: Int = 7461
    @Option(name: .customLong("coordinator-key"), help: "The coordinator's public key.") var coordinatorKey: String?
    @Option(help: "The task the announcers wait for (one that does not start).") var task: String = "side"
    @Option(name: .customLong("metrics-port"), help: "The daemon's metrics port, for /healthz probes.") var metricsPort: Int?
    @Option(name: .customLong("daemon-pid"), help: "The coordinator's process id: sample its memory, stop when it exits.")
    var daemonPID: Int32?
    @Option(help: "Stop after this many seconds even if the daemon still runs.") var seconds: Double = 600
    @Option(name: .customLong("stop-file"), help: "Stop as soon as this file exists.") var stopFile: String?

    func validate() throws {
        guard connections >= 0, announcers >= 0, (1...250).contains(addresses) else {
            throw ValidationError("need --connections ≥ 0, --announcers ≥ 0, --addresses in 1...250")
        }
    }

    func run() async throws {
        let identities = (1...max(1, announcers)).map { index -> Ed25519.SigningKey in
            var random = SeededRandom(seed: seed, stream: "flood-announcer-\(index)")
            return Ed25519.SigningKey(using: &random)
        }.prefix(announcers)
        if printKeys {
            for (offset, key) in identities.enumerated() { print("\(key.verifyingKey) announcer-\(offset + 1)") }
            return
        }
        guard let coordinatorKey else { throw ValidationError("--coordinator-key is required") }
        let pinned = try IdentityFile.publicKey(fromHex: coordinatorKey)
        let idle = daemonPID.flatMap(MemorySampler.residentMebibytes(of:)) ?? 0
        let memory = MemorySampler(pid: daemonPID)
        let counters = FloodCounters()
        let deadline = ContinuousClock.now + .milliseconds(Int64(seconds * 1000))
        let port = self.port, daemonPID = self.daemonPID, task = self.task, stopFile = self.stopFile
        let running: @Sendable () -> Bool = {
            ContinuousClock.now < deadline && (daemonPID.map(MemorySampler.isRunning) ?? true)
                && !(stopFile.map(FileManager.default.fileExists(atPath:)) ?? false)
        }

        await withTaskGroup(of: Void.self) { group in
            group.addTask { await memory.run() }
            for index in 0..<connections {
                let source = "127.0.0.\(2 + index % addresses)"
                group.addTask { await Self.holdConnection(from: source, port: port, counters: counters, while: running) }
            }
            for (offset, identity) in identities.enumerated() {
                group.addTask {
                    await Self.announce(
                        as: identity, pinned: pinned, port: port, task: task, preJoin: offset % 2 == 1,
                        counters: counters, while: running)
                }
            }
            if let metricsPort {
                group.addTask { await Self.probe(port: metricsPort, counters: counters, while: running) }
            }
            // Stop the sampler once the load ends.
            group.addTask {
                while running() { try? await Task.sleep(for: .milliseconds(200)) }
            }
            await group.next()
            while running() { try? await Task.sleep(for: .milliseconds(200)) }
            group.cancelAll()
        }

        let samples = memory.samples()
        let peak = samples.max() ?? 0
        let result = counters.snapshot()
        var object: [String: Any] = [
            "connections": connections, "announcers": announcers,
            "connections_opened": result.opened, "connections_refused": result.refused,
            "announcements": result.announcements, "announcers_closed_at_once": result.closedAtOnce,
            "announcers_left_waiting": result.leftWaiting,
            "daemon_idle_rss_mib": idle, "daemon_peak_rss_mib": peak,
            "peak_to_idle": idle > 0 ? peak / idle : 0,
        ]
        if metricsPort != nil {
            object["healthz_probes"] = result.probes
            object["healthz_answered"] = result.answered
            object["healthz_failures"] = counters.failedProbes
        }
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        print(String(decoding: data, as: UTF8.self))
    }

    /// Keeps one connection open from `source` without ever sending a byte; when the coordinator closes it (its
    /// handshake timeout), opens another.
    static func holdConnection(
        from source: String, port: Int, counters: FloodCounters, while running: @Sendable () -> Bool
    ) async {
        while running() {
            do {
                let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                    .bind(to: try SocketAddress(ipAddress: source, port: 0))
                    .connectTimeout(.seconds(5))
                    .connect(host: "127.0.0.1", port: port).get()
                counters.add(\.opened)
                // Closed by the coordinator at its handshake timeout, or by us when the load ends.
                while running(), channel.isActive { try await Task.sleep(for: .milliseconds(250)) }
                try? await channel.close()
            } catch {
                counters.add(\.refused)
                try? await Task.sleep(for: .milliseconds(100))
            }
        }
    }

    /// Over and over: a session as `identity` that announces a large message and stalls (after joining `task`, or
    /// as its first message), and waits to see whether the coordinator closes it at once.
    static func announce(
        as identity: Ed25519.SigningKey, pinned: Ed25519.VerifyingKey, port: Int, task: String, preJoin: Bool,
        counters: FloodCounters, while running: @Sendable () -> Bool
    ) async {
        var limits = TransportLimits(idleTimeout: .seconds(30))
        limits.maximumMessageBytes = 1 << 30
        while running() {
            do {
                let channel = try await SecureTransport.connect(host: "127.0.0.1", port: port, limits: limits)
                let closedAtOnce = try await channel.executeThenClose { inbound, outbound -> Bool in
                    var frames = inbound.makeAsyncIterator()
                    let session = try await SecureHandshake.initiate(
                        inbound: &frames, outbound: outbound, identity: identity, expectedPeer: pinned, limits: limits)
                    var receiver = SecureReceiver(frames: frames, session: session, channel: channel.channel)
                    if !preJoin {
                        try await session.send(JoinRequest(taskName: task).encoded)
                        guard let answer = try await receiver.receive(within: .seconds(30)),
                              (try? JoinResponse(decoding: answer))?.result == .accepted else { return false }
                    }
                    let announced = preJoin ? 64 << 20 : 16 << 20
                    try await outbound.write(ByteBuffer(bytes: try session.sealedAnnouncement(
                        of: announced, carrying: [UInt8](repeating: 0x41, count: 64))))
                    counters.add(\.announcements)
                    do {
                        return try await receiver.receive(within: .seconds(5)) == nil
                    } catch let error as TransportError where error == .idleTimeout {
                        return false
                    } catch {
                        return true
                    }
                }
                counters.add(closedAtOnce ? \.closedAtOnce : \.leftWaiting)
            } catch {
                try? await Task.sleep(for: .milliseconds(100))
            }
        }
    }

    /// GET /healthz twice a second; a probe counts as answered if a 200 arrives within one second (the shipped
    /// Kubernetes liveness probe's timeout).
    static func probe(port: Int, counters: FloodCounters, while running: @Sendable () -> Bool) async {
        let start = ContinuousClock.now
        while running() {
            counters.add(\.probes)
            let outcome = await HealthProbe.check(port: port, within: .seconds(1))
            if outcome == "ok" {
                counters.add(\.answered)
            } else {
                counters.failedProbe(at: (ContinuousClock.now - start).seconds, outcome)
            }
            try? await Task.sleep(for: .milliseconds(500))
        }
    }
}

/// What the flood saw, counted from many tasks.
final class FloodCounters: Sendable {
    struct Counts: Sendable {
        var opened = 0, refused = 0, announcements = 0, closedAtOnce = 0, leftWaiting = 0, probes = 0, answered = 0
    }

    private let counts = NIOLockedValueBox(Counts())
    private let failures = NIOLockedValueBox<[String]>([])

    /// Records a probe that failed, when (seconds into the flood) and how.
    func failedProbe(at seconds: Double, _ how: String) {
        failures.withLockedValue { $0.append(String(format: "%.1f s: %@", seconds, how)) }
    }

    var failedProbes: [String] { failures.withLockedValue { $0 } }

    func add(_ field: WritableKeyPath<Counts, Int>) {
        counts.withLockedValue { $0[keyPath: field] += 1 }
    }

    func snapshot() -> Counts { counts.withLockedValue { $0 } }
}

/// One plain HTTP/1.1 `GET /healthz`.
enum HealthProbe {
    /// "ok", or how the probe failed ("connect failed", "no answer in time", or the status line).
    static func check(port: Int, within limit: Duration) async -> String {
        let channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>
        do {
            channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connectTimeout(.milliseconds(Int64(limit.seconds * 1000)))
                .connect(host: "127.0.0.1", port: port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                    }
                }
        } catch {
            return "connect failed: \(error)"
        }
        let timer = Task {
            try await Task.sleep(for: limit)
            try await channel.channel.close()
        }
        defer { timer.cancel() }
        var text = ""
        do {
            try await channel.executeThenClose { inbound, outbound in
                try await outbound.write(ByteBuffer(string: "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n"))
                for try await chunk in inbound { text += String(buffer: chunk) }
            }
        } catch {
            return text.isEmpty ? "no answer in time" : "cut short"
        }
        if text.hasPrefix("HTTP/1.1 200") { return "ok" }
        return text.isEmpty ? "closed without an answer" : String(text.prefix(while: { $0 != "\r" }))
    }
}
