import Foundation
import SecAggIdentity
import SecAggTesting
import Testing

/// Issue 16 with real processes: two `secaggd` shards, each with its own `secagg participate` clients, and a root
/// (`secagg federation round`) that starts the global round on both over their admin listeners, collects the signed
/// cohort releases and adds them.
@Suite("Global rounds across secaggd shards, with processes", .serialized)
struct FederationEndToEndTests {
    /// The task every shard runs, and the root's copy of it.
    static let task = """
        name: sum
        dimension: 4
        max_input: 100
        graph: complete
        min_clients: 3
        max_clients: 10
        gather_seconds: 600
        timeouts: {advertise: 10, share: 10, masked: 10, unmask: 10}
        """

    /// A shard: its own world (identity, clients, store), the root's admin key enrolled, `clients` of its clients
    /// started and waiting.
    struct Shard {
        var world: TestWorld
        var daemon: DaemonProcess
        var clients: [ClientProcess]
        var adminPort: Int

        var argument: String { "127.0.0.1:\(adminPort)@\(world.coordinatorKey)" }

        init(clients count: Int, rootKey: String) async throws {
            world = try TestWorld(clients: count)
            let indented = FederationEndToEndTests.task.split(separator: "\n").enumerated()
                .map { $0.offset == 0 ? "  - \($0.element)" : "    \($0.element)" }.joined(separator: "\n")
            try world.writeConfiguration(task: indented, extra: """
                store: {path: store.sqlite}
                admin: {host: 127.0.0.1, port: 0, keys: ["\(rootKey)"]}
                """)
            let world = self.world
            daemon = try await world.startDaemon(arguments: ["--log-level", "debug"])
            adminPort = try AdminEndToEndTests.adminPort(daemon)
            clients = try (0..<count).map { try world.startClient($0, task: "sum") }
            // Every client waits before the root asks: a start request takes whoever waits once min_clients do, so
            // a client still connecting then would miss the round (seen under ThreadSanitizer: 3 of 4 in a cohort).
            let daemon = self.daemon
            #expect(await daemon.logLines(containing: "joined", count: count, within: .seconds(120)),
                    "not every client joined its shard")
        }
    }

    static func root(_ shards: [(String, Shard)], in folder: URL, arguments: [String]) async throws -> CommandRun {
        let taskFile = folder.appendingPathComponent("task.yaml")
        try task.write(to: taskFile, atomically: true, encoding: .utf8)
        return try await TestWorld.runSecagg(
            ["federation", "round", "--task-file", taskFile.path, "--identity", folder.appendingPathComponent("root.key").path]
                + shards.flatMap { ["--shard", "\($0.0)=\($0.1.argument)"] } + arguments,
            in: folder)
    }

    @Test("the root adds both shards' cohorts to exactly all their clients' inputs")
    func globalSum() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("secagg-root-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let rootKey = "\(try IdentityFile.create(at: folder.appendingPathComponent("root.key").path).verifyingKey)"
        let a = try await Shard(clients: 3, rootKey: rootKey)
        let b = try await Shard(clients: 4, rootKey: rootKey)
        defer { for shard in [a, b] where shard.daemon.process.isRunning { kill(shard.daemon.process.processIdentifier, SIGKILL) } }

        let run = try await Self.root(
            [("a", a), ("b", b)], in: folder,
            arguments: ["--min-cohorts", "2", "--min-clients", "7", "--deadline", "120", "--global-round", String(repeating: "ab", count: 16)])
        #expect(run.status == 0, "\(run.explanation)")
        let report = try #require(try run.json() as? [String: Any])
        let expected = zip(a.world.expectedSum(of: a.world.publicKeys), b.world.expectedSum(of: b.world.publicKeys)).map { $0 + $1 }
        #expect((report["sum"] as? [Int])?.map(UInt64.init) == expected, "\(run.text)")
        #expect(report["survivors"] as? Int == 7)
        #expect(report["bits"] as? Int == 33, "32 bits and one more for two cohorts")
        #expect((report["included"] as? [[String: Any]])?.compactMap { $0["shard"] as? String } == ["a", "b"])
        #expect((report["excluded"] as? [Any])?.isEmpty == true)
        for client in a.clients + b.clients { #expect(await client.waitForExit(within: .seconds(60)) == 0) }
    }

    @Test("a shard that is down is excluded with its reason; the policy decides whether the rest releases")
    func shardDown() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("secagg-root-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let rootKey = "\(try IdentityFile.create(at: folder.appendingPathComponent("root.key").path).verifyingKey)"
        let a = try await Shard(clients: 3, rootKey: rootKey)
        let b = try await Shard(clients: 3, rootKey: rootKey)
        defer { for shard in [a, b] where shard.daemon.process.isRunning { kill(shard.daemon.process.processIdentifier, SIGKILL) } }
        kill(b.daemon.process.processIdentifier, SIGKILL)
        _ = await b.daemon.waitForExit(within: .seconds(30))
        for client in b.clients {
            kill(client.process.processIdentifier, SIGKILL)
            _ = await client.waitForExit(within: .seconds(30))
        }

        // Two cohorts required: nothing is released, and the root says why (exit 1).
        let strict = try await Self.root([("a", a), ("b", b)], in: folder, arguments: ["--min-cohorts", "2", "--deadline", "60"])
        #expect(strict.status == 1, "\(strict.explanation)")
        let refused = try #require(try strict.json() as? [String: Any])
        #expect(refused["failure"] as? String == "1 cohort(s) included, 2 required", "\(strict.text)")
        let excluded = try #require(refused["excluded"] as? [[String: Any]])
        #expect(excluded.first?["shard"] as? String == "b")
        let reason = excluded.first?["reason"] as? String
        #expect(reason?.contains("unreachable") == true, "\(strict.text)")
        // Shard a's round ran for that global round all the same (its cohort was valid, only too alone).
        #expect((refused["included"] as? [[String: Any]])?.first?["shard"] as? String == "a")
        for client in a.clients { #expect(await client.waitForExit(within: .seconds(60)) == 0) }
    }
}
