import NIOConcurrencyHelpers
import Foundation
import SecAggCrypto
import SecAggIdentity
import SecAggTransport
import Synchronization
import SecAggTesting
import Testing

/// End to end with real processes: `secaggd` and many `secagg participate` processes on loopback, some of which
/// crash (exit without answering) in each phase.
@Suite("Processes end to end", .serialized)
struct ProcessEndToEndTests {
    @Test("24 client processes, 8 crashing across four phases: the sum of the survivors is exact")
    func crashesInEveryPhase() async throws {
        let world = try TestWorld(clients: 24)
        try world.writeConfiguration(task: """
              - name: e2e
                dimension: 16
                max_input: 1000
                graph: complete
                min_clients: 24
                max_clients: 24
                rounds: 1
                gather_seconds: 0.2
                timeouts: {advertise: 20, share: 20, masked: 20, unmask: 20}
            """)
        let daemon = try await world.startDaemon()
        let crashes = ["advertise", "advertise", "share", "share", "masked", "masked", "unmask", "unmask"]
        var clients: [ClientProcess] = []
        for index in 0..<24 {
            clients.append(try world.startClient(index, task: "e2e", crashAt: index < crashes.count ? crashes[index] : nil))
        }
        for client in clients { _ = await client.waitForExit(within: .seconds(120)) }
        #expect(await daemon.waitForExit(within: .seconds(30)) == 0)

        let result = try world.onlyResult(task: "e2e")
        #expect(result["outcome"] as? String == "completed")
        let survivors = try #require(result["survivor_identities"] as? [String])
        // Crashes before the masked input leave the sum; crashes while unmasking stay in it.
        #expect(survivors.count == 18)
        let crashedBeforeInput = Set((0..<6).map { world.publicKeys[$0] })
        #expect(Set(survivors).isDisjoint(with: crashedBeforeInput))
        #expect(Set(survivors).isSuperset(of: [world.publicKeys[6], world.publicKeys[7]]))
        let sum = try #require(result["sum"] as? [NSNumber]).map(\.uint64Value)
        #expect(sum == world.expectedSum(of: survivors))
        for index in 8..<24 {
            #expect(clients[index].process.terminationStatus == 0, "client \(index) failed: \(clients[index].transcript())")
        }
    }

    @Test("a coordinator restarted between rounds runs the next round")
    func restartBetweenRounds() async throws {
        let world = try TestWorld(clients: 5)
        try world.writeConfiguration(task: """
              - name: restart
                dimension: 4
                max_input: 100
                graph: complete
                min_clients: 5
                max_clients: 5
                gather_seconds: 0.2
                timeouts: {advertise: 10, share: 10, masked: 10, unmask: 10}
            """)
        for round in 1...2 {
            let daemon = try await world.startDaemon()
            let clients = try (0..<5).map { try world.startClient($0, task: "restart") }
            for client in clients {
                #expect(await client.waitForExit(within: .seconds(120)) == 0, "round \(round): \(client.transcript())")
            }
            #expect(await daemon.logLine(containing: "round completed") != nil)
            daemon.process.terminate()
            #expect(await daemon.waitForExit(within: .seconds(15)) == 0, "SIGTERM must shut down cleanly")
        }
        let results = try world.results(task: "restart")
        #expect(results.count == 2)
        for result in results {
            #expect(result["outcome"] as? String == "completed")
            let survivors = try #require(result["survivor_identities"] as? [String])
            #expect(try #require(result["sum"] as? [NSNumber]).map(\.uint64Value) == world.expectedSum(of: survivors))
        }
    }

    @Test("clients that join while a round runs wait for the next round")
    func lateJoinersWait() async throws {
        let world = try TestWorld(clients: 9)
        try world.writeConfiguration(task: """
              - name: queue
                dimension: 8
                max_input: 100
                graph: complete
                min_clients: 3
                max_clients: 6
                rounds: 2
                gather_seconds: 1
                timeouts: {advertise: 10, share: 10, masked: 10, unmask: 10}
            """)
        let daemon = try await world.startDaemon()
        var clients = try (0..<6).map { try world.startClient($0, task: "queue") }
        // The first six fill a round at once; these three arrive while it runs.
        clients += try (6..<9).map { try world.startClient($0, task: "queue") }
        var rounds: [String: Int] = [:]
        for client in clients {
            #expect(await client.waitForExit(within: .seconds(120)) == 0, "\(client.transcript())")
            let receipt = try #require(try JSONSerialization.jsonObject(with: Data(client.output().utf8)) as? [String: Any])
            rounds[receipt["round_id"] as? String ?? "?", default: 0] += 1
        }
        #expect(await daemon.waitForExit(within: .seconds(30)) == 0)
        #expect(rounds.values.sorted() == [3, 6])
    }
}

/// `secagg simulate --transport tcp` with noise: the release through the real service is consistent with the
/// predicted error, for integer and float inputs.
@Suite("Noisy rounds over TCP")
struct NoisyTCPSimulationTests {
    @Test("secagg simulate --transport tcp --dp", arguments: [
        ["--dp", "distributed", "--epsilon", "1"], ["--dp", "central", "--epsilon", "1", "--encoder", "float"],
    ])
    func noisyTCPRound(arguments: [String]) async throws {
        let run = try await TestWorld.runSecagg(
            ["simulate", "--transport", "tcp", "--clients", "20", "--dimension", "300", "--json"] + arguments)
        #expect(run.status == 0, "\(run.explanation)")
        let report = try #require(try run.json() as? [String: Any])
        #expect(report["verified"] as? Bool == true)
        let rmse = try #require(report["rmse"] as? Double)
        let predicted = try #require(report["predicted_rmse"] as? Double)
        #expect(abs(rmse / predicted - 1) < 0.25, "rmse \(rmse) vs predicted \(predicted)")
    }
}

/// `secagg experiment` with `transport` as an axis: the tcp run goes through a real coordinator service and clients
/// on loopback (not silently in memory), and each row says how it ran.
@Suite("Experiment sweeps over TCP")
struct ExperimentOverTCPTests {
    @Test("a sweep with transport: [inprocess, tcp] writes one verified row per transport")
    func transportAxis() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("secagg-sweep-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("tcp.yaml")
        try """
            name: tcp-sweep
            parameters: {clients: 12, dimension: 50, graph: complete, dropout: 0, transport: [inprocess, tcp]}
            """.write(to: file, atomically: true, encoding: .utf8)
        let stem = folder.appendingPathComponent("out").path
        let run = try await TestWorld.runSecagg(["experiment", file.path, "--out", stem])
        #expect(run.status == 0, "\(run.explanation)")
        #expect(run.errors.contains("[2/2]"), "progress: \(run.errors)")
        let lines = try String(contentsOfFile: stem + ".csv", encoding: .utf8).split(separator: "\n").map(String.init)
        #expect(lines.count == 3)
        let header = lines[0].split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        let rows = lines.dropFirst().map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        let column = { (name: String) in try #require(header.firstIndex(of: name)) }
        let transport = try column("transport"), command = try column("command"), success = try column("success")
        #expect(rows.map { $0[transport] } == ["inprocess", "tcp"])
        #expect(rows.allSatisfy { $0[success] == "true" })
        #expect(rows[1][command].hasSuffix("--transport tcp") && !rows[0][command].contains("--transport"))
    }
}

/// `secagg dp plan`: the plan for a target ε achieves that ε, and planning with the σ it chose gives it back.
@Suite("DP planning command")
struct DPPlanCommandTests {
    static func plan(_ arguments: [String]) async throws -> [String: Any] {
        let run = try await TestWorld.runSecagg(
            ["dp", "plan", "--clients", "1000", "--min-survivors", "500", "--dimension", "10000", "--clip", "100",
             "--json"] + arguments)
        #expect(run.status == 0, "\(run.explanation)")
        return try #require(try run.json() as? [String: Any])
    }

    @Test("ε → σ → ε round trip, and σ per client = σ/√t_min")
    func roundTrip() async throws {
        let forward = try await Self.plan(["--epsilon", "1", "--delta", "1e-6"])
        #expect(abs((forward["epsilon"] as? Double ?? 0) - 1) < 1e-6)
        let sigma = try #require(forward["sigma"] as? Double)
        let local = try #require(forward["sigma_per_client"] as? Double)
        #expect(abs(local * (500.0).squareRoot() / sigma - 1) < 1e-9)
        #expect((forward["bits"] as? Int ?? 0) >= 18)
        let back = try await Self.plan(["--sigma", String(local), "--delta", "1e-6"])
        #expect(abs((back["epsilon"] as? Double ?? 0) - 1) < 1e-3)
        // Every ε comes with the relation it is for and the trust it assumes.
        #expect(forward["epsilon_add_remove"] as? Double == forward["epsilon"] as? Double)
        #expect((forward["epsilon_replace_one"] as? Double ?? 0) > 1.5)
        #expect((forward["privacy_assumption"] as? String ?? "").contains("t_min = 500 honest clients"))
    }
}
