import Foundation
import NIOCore
import NIOPosix
import Testing

/// Issue 13, finding 4: SIGTERM while connections were being accepted crashed `secaggd` with SIGILL (swift-nio traps
/// when an accepted connection's writer is released on an open channel, and a stopping listener dropped the
/// connections it had accepted but not yet handed out; 12 of 15 stops after a 200-connection burst). A real daemon
/// is stopped in the middle of a burst of connections, again and again: every stop must be a clean exit 0.
@Suite("Stopping the daemon under load", .serialized)
struct ShutdownTests {
    @Test("SIGTERM in the middle of a burst of connections exits cleanly, 20 times in a row", .timeLimit(.minutes(3)))
    func stopDuringBurst() async throws {
        let world = try TestWorld(clients: 1)
        try world.writeConfiguration(task: """
              - name: idle
                dimension: 4
                max_input: 10
                graph: complete
                min_clients: 3
                max_clients: 3
            """)
        var statuses: [Int32?] = []
        for attempt in 0..<20 {
            let daemon = try world.startDaemon()
            let port = world.port
            // A burst of connections that never start their handshake, still arriving when the signal lands.
            let burst = Task {
                await withTaskGroup(of: Void.self) { group in
                    for _ in 0..<200 {
                        group.addTask {
                            let channel = try? await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                                .connectTimeout(.seconds(2))
                                .connect(host: "127.0.0.1", port: port).get()
                            try? await Task.sleep(for: .milliseconds(300))
                            try? await channel?.close()
                        }
                    }
                }
            }
            try await Task.sleep(for: .milliseconds(5 + 7 * attempt % 40))
            daemon.process.terminate()
            let status = await daemon.waitForExit(within: .seconds(20))
            await burst.value
            statuses.append(status)
            let log = (try? String(contentsOf: daemon.log, encoding: .utf8)) ?? ""
            #expect(status == 0, "stop \(attempt + 1): exit \(String(describing: status)); \(log.suffix(600))")
            #expect(!log.contains("Fatal error"), "stop \(attempt + 1): \(log.suffix(600))")
        }
        #expect(statuses.allSatisfy { $0 == 0 }, "\(statuses)")
    }
}
