import Foundation
import NIOPosix
import SecAggWire
import SecAggTesting
import Testing

/// The operator's view with real processes: `secaggd` with its audit log and metrics endpoint, three
/// `secagg participate` clients, then `secagg audit verify` on the log before and after tampering, and
/// `secaggd --check-config` explaining bad environment overrides.
@Suite("Operator end to end", .serialized)
struct OperatorProcessTests {
    /// Runs a binary to completion; returns its exit status and combined output.
    static func run(_ binary: URL, _ arguments: [String], environment: [String: String] = [:]) throws -> (Int32, String) {
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// A task that never gathers (one client is enrolled): for tests of the daemon itself, not of rounds.
    static let smallTask = """
          - name: t
            dimension: 4
            max_input: 10
            min_clients: 3
            max_clients: 3
        """

    static let task = """
          - name: ops
            dimension: 16
            max_input: 1000
            graph: complete
            min_clients: 3
            max_clients: 3
            gather_seconds: 0.2
            timeouts: {advertise: 20, share: 20, masked: 20, unmask: 20}
        audit:
          path: audit.log
        metrics:
          enabled: true
          port: 0
        """

    @Test("a round leaves metrics and a verifiable audit log; tampering is found; a broken log stops the daemon")
    func roundAuditAndMetrics() async throws {
        let world = try TestWorld(clients: 3)
        try world.writeConfiguration(task: Self.task)
        let daemon = try await world.startDaemon()
        var clients: [ClientProcess] = []
        for index in 0..<3 { clients.append(try world.startClient(index, task: "ops")) }
        for client in clients {
            #expect(await client.waitForExit(within: .seconds(120)) == 0, "\(client.transcript())")
        }
        let line = try #require(await daemon.logLine(containing: "endpoint=http://127.0.0.1:", within: .seconds(20)),
                                "the metrics endpoint logs its address")
        let marker = try #require(line.range(of: "endpoint=http://127.0.0.1:"))
        let port = try #require(Int(line[marker.upperBound...].prefix { $0.isNumber }))
        // The round's record is filed (and counted) before the daemon logs "round completed". A loaded machine may
        // drop a connection: up to three tries, only the last answer counts.
        #expect(await daemon.logLine(containing: "round completed", within: .seconds(30)) != nil)
        var samples: [MetricsEndpointTests.Sample] = []
        var lastError: (any Error)?
        for _ in 0..<3 {
            do {
                let response = try await MetricsEndpointTests.request("GET", "/metrics", port: port)
                #expect(response.status == 200)
                samples = try MetricsEndpointTests.parseExposition(response.body)
                lastError = nil
                break
            } catch {
                lastError = error
            }
        }
        #expect(lastError == nil, "GET /metrics failed: \(String(describing: lastError))")
        #expect(MetricsEndpointTests.value(samples, "secagg_rounds_total", ["task": "ops", "outcome": "completed"]) == 1)
        #expect(MetricsEndpointTests.value(samples, "secagg_phase_clients", ["task": "ops", "phase": "masked"]) == 3)
        daemon.process.terminate()
        #expect(await daemon.waitForExit(within: .seconds(30)) == 0)

        let secagg = world.binaries.appendingPathComponent("secagg")
        let secaggd = world.binaries.appendingPathComponent("secaggd")
        let auditPath = world.folder.appendingPathComponent("audit.log").path
        let (verified, report) = try Self.run(secagg, ["audit", "verify", auditPath])
        #expect(verified == 0, "\(report)")
        let result = try world.onlyResult(task: "ops")
        let (_, sumHash) = try Self.run(secagg, ["audit", "sum-hash", world.folder.appendingPathComponent("results/ops/\(result["round_id"] as? String ?? "").json").path])
        let audit = try String(contentsOfFile: auditPath, encoding: .utf8)
        #expect(audit.contains("\"sum_blake2b\":\"\(sumHash.trimmingCharacters(in: .whitespacesAndNewlines))\""))

        // Remove the third record: verify names line 3 and fails; check-config and the daemon refuse the log.
        var lines = audit.split(separator: "\n").map(String.init)
        lines.remove(at: 2)
        try (lines.joined(separator: "\n") + "\n").write(toFile: auditPath, atomically: true, encoding: .utf8)
        let (failed, problems) = try Self.run(secagg, ["audit", "verify", auditPath])
        #expect(failed == 1)
        #expect(problems.contains("line 3: sequence number 4 where 3 was expected"), "\(problems)")
        let config = world.folder.appendingPathComponent("secaggd.yaml").path
        let (checked, explanation) = try Self.run(secaggd, ["--config", config, "--check-config"])
        #expect(checked == 2)
        #expect(explanation.contains("its chain is broken"), "\(explanation)")
        let (started, refusal) = try Self.run(secaggd, ["--config", config])
        #expect(started != 0)
        #expect(refusal.contains("fails verification"), "\(refusal)")
    }

    @Test("secagg --version and secaggd --version print the release and the wire protocol, and exit 0")
    func versions() throws {
        let binaries = try TestWorld.locateBinaries()
        for name in ["secagg", "secaggd"] {
            let (status, output) = try Self.run(binaries.appendingPathComponent(name), ["--version"])
            #expect(status == 0, "\(name): \(output)")
            #expect(output == "\(SecAggVersion.summary)\n", "\(name): \(output)")
            #expect(output.hasPrefix("\(SecAggVersion.release) (wire protocol \(WireLimits.protocolVersion))"))
        }
    }

    @Test("--check-config explains every bad override and exits 2")
    func badOverrides() throws {
        let world = try TestWorld(clients: 1)
        try world.writeConfiguration(task: Self.smallTask)
        let config = world.folder.appendingPathComponent("secaggd.yaml").path
        let secaggd = world.binaries.appendingPathComponent("secaggd")
        let (status, output) = try Self.run(secaggd, ["--config", config, "--check-config"], environment: [
            "SECAGGD_METRICS_PORT": "99999", "SECAGGD_LISTEN_PORTT": "1", "SECAGGD_IDLE_TIMEOUT_SECONDS": "-1",
        ])
        #expect(status == 2)
        #expect(output.contains("SECAGGD_METRICS_PORT=\"99999\" is invalid"))
        #expect(output.contains("SECAGGD_LISTEN_PORTT is not a secaggd variable"))
        #expect(output.contains("SECAGGD_IDLE_TIMEOUT_SECONDS=\"-1\" is invalid: expected a positive number of seconds"))
        let (fine, report) = try Self.run(secaggd, ["--config", config, "--check-config"], environment: ["SECAGGD_LISTEN_PORT": "7999"])
        #expect(fine == 0, "\(report)")
        #expect(report.contains("listen: 127.0.0.1:7999") && report.contains("SECAGGD_LISTEN_PORT -> listen.port"))
        #expect(report.contains("task t: dimension 4") && report.contains("privacy: none"), "\(report)")
    }

    // Issue 12: SIGHUP was silently ignored; an operator expecting a reload got none and no word of it.
    @Test("SIGHUP is logged as ignored (no reload) and the daemon keeps running; SIGTERM then stops it with 0")
    func hangup() async throws {
        let world = try TestWorld(clients: 1)
        try world.writeConfiguration(task: Self.smallTask)
        let daemon = try await world.startDaemon()
        try #require(world.port > 0, "the daemon did not start")
        kill(daemon.process.processIdentifier, SIGHUP)
        let line = await daemon.logLine(containing: "SIGHUP ignored", within: .seconds(10))
        #expect(line?.contains("SIGHUP ignored: secaggd does not reload its configuration") == true, "\(line ?? "no line")")
        #expect(daemon.process.isRunning)
        kill(daemon.process.processIdentifier, SIGTERM)
        #expect(await daemon.waitForExit(within: .seconds(10)) == 0)
    }

    // Issue 12: --check-config said OK for a port already in use; the daemon then failed to start.
    @Test("--check-config refuses a port another process listens on, naming the key, and exits 2")
    func portInUse() async throws {
        let world = try TestWorld(clients: 1)
        try world.writeConfiguration(task: Self.smallTask)
        let taken = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(host: "127.0.0.1", port: 0).get()
        let port = try #require(taken.localAddress?.port)
        let config = world.folder.appendingPathComponent("secaggd.yaml").path
        let secaggd = world.binaries.appendingPathComponent("secaggd")
        let (status, output) = try Self.run(
            secaggd, ["--config", config, "--check-config"], environment: ["SECAGGD_METRICS_ENABLED": "yes", "SECAGGD_METRICS_PORT": "\(port)"])
        try await taken.close()
        #expect(status == 2, "\(output)")
        #expect(output.contains("metrics: cannot listen on 127.0.0.1:\(port)"), "\(output)")
        #expect(!output.contains("OK"), "\(output)")
    }
}
