import Foundation
import SecAggTesting
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The short soak (issue 7, load and fault tests): a real `secaggd` runs rounds back to back while
/// `secagg bench soak` re-joins the same clients each round and checks every round against the daemon's result
/// file. Benchmarks/soak.sh is the long version.
@Suite("Soak with faults", .serialized)
struct SoakTests {
    /// Whether this process (and so the daemon built alongside it) runs under AddressSanitizer or ThreadSanitizer,
    /// which hold freed memory back and make resident memory meaningless as a leak check.
    static let sanitized: Bool = ["__asan_init", "__tsan_init"].contains { (name: String) -> Bool in dlsym(nil, name) != nil }

    /// Starts a daemon for `rounds` rounds of `clients` soak clients, runs `secagg bench soak` against it with
    /// `arguments`, waits for the daemon to exit and returns the soak's report.
    static func soak(
        rounds: Int, clients: Int, timeouts: Int, idleTimeout: Int = 300, arguments: [String]
    ) async throws -> [String: Any] {
        let world = try TestWorld(clients: 0)
        let keys = try await TestWorld.runSecagg(["bench", "soak", "--print-keys", "--clients", "\(clients)"])
        try #require(keys.status == 0, "\(keys.explanation)")
        try keys.output.write(to: world.folder.appendingPathComponent("enrolled.txt"))
        try world.writeConfiguration(task: """
              - name: soak
                dimension: 32
                max_input: 1000
                graph: auto
                min_clients: \(clients / 2)
                max_clients: \(clients)
                rounds: \(rounds)
                gather_seconds: 1
                timeouts: {advertise: \(timeouts), share: \(timeouts), masked: \(timeouts), unmask: \(timeouts)}
            """, extra: "limits: {max_connections: \(clients + 32), handshake_timeout_seconds: 2, idle_timeout_seconds: \(idleTimeout)}")
        let daemon = try await world.startDaemon()
        try #require(world.port > 0, "the daemon did not start: \((try? String(contentsOf: daemon.log, encoding: .utf8)) ?? "")")

        let run = try await TestWorld.runSecagg([
            "bench", "soak", "--rounds", "\(rounds)", "--clients", "\(clients)", "--dimension", "32", "--max-input", "1000",
            "--round-timeout", "60", "--port", "\(world.port)", "--coordinator-key", world.coordinatorKey,
            "--task", "soak", "--results", world.folder.appendingPathComponent("results").path,
            "--daemon-pid", "\(daemon.process.processIdentifier)",
        ] + arguments)
        let report = try #require(try run.json() as? [String: Any], "no report: \(run.explanation)")
        #expect(await daemon.waitForExit(within: .seconds(30)) == 0, "the daemon must finish its rounds and exit 0")
        #expect(run.status == 0, "\(report["problems"] ?? "")")
        #expect(report["wrong_sums"] as? Int == 0)
        #expect(report["rounds_failed"] as? Int == 0, "\(report["problems"] ?? "")")
        #expect(report["daemon_died"] as? Bool == false)
        #expect(report["rounds_run"] as? Int == rounds)
        return report
    }

    /// Six rounds of 16 clients with random dropouts at random phases, one client that trickles its bytes, one that
    /// vanishes without closing, one whose connection is reset, and two unauthenticated connections that stall the
    /// handshake; every third round most clients leave early, so it must abort.
    @Test("six rounds with dropouts and faults: every sum exact, every abort a dropout code, the daemon survives")
    func shortSoak() async throws {
        let report = try await Self.soak(rounds: 6, clients: 16, timeouts: 3, arguments: [
            "--dropout", "0.15", "--faults", "1", "--stalled", "2", "--trickle-ms", "1", "--abort-every", "3",
        ])
        let completed = try #require(report["rounds_completed"] as? Int)
        let aborted = try #require(report["rounds_aborted"] as? [String: Int])
        #expect(completed + aborted.values.reduce(0, +) == 6)
        // Rounds 3 and 6 lose 80 % of their clients before the masked inputs: too few to go on.
        #expect(aborted.values.reduce(0, +) >= 2)
        #expect(completed >= 1)
    }

    /// Regression: every received message armed a watchdog whose cancelled `Task.sleep` kept its allocation until
    /// the idle timeout passed, so the daemon grew by about 4.5 KiB per client and round (over 1.5 MiB across
    /// these rounds) until the first messages were an idle timeout old. Memory after the warm-up rounds must stay
    /// flat while the idle timeout is far away.
    @Test("the daemon's memory does not grow round over round", .enabled(if: !Self.sanitized, "sanitizers quarantine freed memory"))
    func memoryIsFlat() async throws {
        let report = try await Self.soak(rounds: 12, clients: 48, timeouts: 5, idleTimeout: 600, arguments: [
            "--dropout", "0", "--faults", "0", "--stalled", "0",
        ])
        let perRound = try #require(report["rss_round_end_mib"] as? [Double])
        try #require(perRound.count == 11 && perRound.allSatisfy { $0 > 0 }, "\(perRound)")
        #expect(perRound[10] - perRound[3] < 1.0, "daemon RSS after each round (MiB): \(perRound)")
    }
}
