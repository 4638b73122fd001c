import Foundation
import Logging
import NIOConcurrencyHelpers
import SecAggCoordinator
import SecAggCrypto
import SecAggFederation
import SecAggIdentity
import SecAggMath
import SecAggPrivacy
import SecAggRoot
import SecAggTesting
import SecAggTransport
import SecAggWire
import Testing

/// Issue 16 with real processes: a `secagg-root` over three `secaggd` shards (and one impostor shard in the test
/// process that answers with a forged, then a replayed release), clients enrolled through the root and placed by
/// rendezvous hashing, each running `secagg participate` against its shard; global rounds started and read back with
/// `secagg admin global …`.
@Suite("A root (secagg-root) over secaggd shards, with processes", .serialized)
struct RootEndToEndTests {
    static let task = """
        name: sum
        dimension: 4
        max_input: 100
        graph: complete
        min_clients: 3
        max_clients: 10
        start: on_request
        timeouts: {advertise: 10, share: 10, masked: 10, unmask: 10}
        """

    /// One real shard: a secaggd whose admin listener admits the root and the operator, with no task of its own (the
    /// root pushes `sum`).
    struct Shard {
        var name: String
        var world: TestWorld
        var daemon: DaemonProcess
        var adminPort: Int

        init(name: String, adminKeys: [String]) async throws {
            self.name = name
            world = try TestWorld(clients: 0)
            try world.writeConfiguration(task: "", extra: """
                store: {path: store.sqlite}
                admin: {host: 127.0.0.1, port: 0, keys: [\(adminKeys.map { "\"\($0)\"" }.joined(separator: ", "))]}
                """)
            let world = self.world
            daemon = try await world.startDaemon()
            adminPort = try AdminEndToEndTests.adminPort(daemon)
        }

        var entry: String {
            "{name: \(name), admin: \"127.0.0.1:\(adminPort)\", key: \"\(world.coordinatorKey)\", clients: \"127.0.0.1:\(world.port)\"}"
        }
    }

    /// A shard that is not one: it holds the key the root pins for it, admits the root, and hands in a release whose
    /// signature is forged (first global round), then its first release again (a replay) in every later one.
    final class Impostor: Sendable {
        let key = newSigningKey()
        let server: AdminServer
        let seen = NIOLockedValueBox<GlobalRoundID?>(nil)

        init(rootKey: Ed25519.VerifyingKey) async throws {
            server = try await AdminServer.bind(
                AdminSettings(host: "127.0.0.1", port: 0, keys: [rootKey]), identity: key, limits: TransportLimits(),
                logger: Logger(label: "impostor"))
        }

        func entry(name: String) -> String {
            "{name: \(name), admin: \"127.0.0.1:\(server.port)\", key: \"\(key.verifyingKey)\", clients: \"127.0.0.1:1\"}"
        }

        func release(for globalRound: GlobalRoundID) throws -> [UInt8] {
            let release = CohortRelease(
                shard: key.verifyingKey, globalRound: globalRound, taskName: "sum", roundID: RoundID(bytes: [UInt8](repeating: 7, count: 16))!,
                lift: .unsigned, encoding: "integer", survivors: 50, noise: .none,
                sum: try ModularVector(values: [1_000, 1_000, 1_000, 1_000], bits: 32))
            return try release.signed(with: key).encoded
        }

        func answer(_ request: AdminRequest) -> AdminResponse {
            switch request {
            case .enroll: return AdminResponse(status: .failed, body: "this shard takes no clients")
            case .listTasks, .createTask, .updateTask, .startGlobalRound: return AdminResponse(status: .ok, body: "{}")
            case let .cohortRelease(_, globalRound):
                let first = seen.withLockedValue { seen in
                    if seen == nil { seen = globalRound }
                    return seen!
                }
                guard var bytes = try? release(for: first) else { return AdminResponse(status: .failed, body: "cannot sign") }
                if first == globalRound {
                    // Forged: the content as the shard would sign it, under another key's signature.
                    let forger = newSigningKey()
                    bytes = Array(bytes.dropLast(64)) + forger.signature(for: Array(bytes.dropLast(64))).rawRepresentation
                }
                return AdminResponse(status: .ok, body: "{\"release\": \"\(hexString(bytes))\"}")
            default:
                return AdminResponse(status: .invalid, body: "no")
            }
        }
    }

    struct Root {
        var daemon: DaemonProcess
        var port: Int
        var key: String
        var folder: URL

        static func start(in folder: URL, shards: [String], operatorKey: String, global: String, tasks: String) async throws -> Root {
            let key = "\(try IdentityFile.load(from: folder.appendingPathComponent("root.key").path).verifyingKey)"
            let config = """
                identity: root.key
                admin: {host: 127.0.0.1, port: 0, keys: ["\(operatorKey)"]}
                store: {path: root.sqlite}
                shards:
                \(shards.map { "  - \($0)" }.joined(separator: "\n"))
                global: \(global)
                tasks:
                \(tasks)
                """
            try config.write(to: folder.appendingPathComponent("root.yaml"), atomically: true, encoding: .utf8)
            let daemon = try TestWorld.launch(
                try TestWorld.locateBinaries().appendingPathComponent("secagg-root"),
                arguments: ["--config", folder.appendingPathComponent("root.yaml").path],
                log: folder.appendingPathComponent("root-\(UUID().uuidString).log"))
            let line = try #require(
                await daemon.logLine(containing: "admin listening", within: .seconds(30)),
                "the root did not start: \((try? String(contentsOf: daemon.log, encoding: .utf8)) ?? "")")
            let range = try #require(line.range(of: "endpoint=127.0.0.1:"))
            let port = try #require(Int(line[range.upperBound...].prefix { $0.isNumber }))
            return Root(daemon: daemon, port: port, key: key, folder: folder)
        }

        /// `secagg admin …` against the root as the operator.
        func admin(_ arguments: [String]) async throws -> CommandRun {
            try await TestWorld.runSecagg(
                ["admin"] + arguments + [
                    "--daemon", "127.0.0.1:\(port)", "--identity", folder.appendingPathComponent("operator.key").path,
                    "--coordinator-key", key,
                ], in: folder)
        }

        /// Starts a global round of `task` and waits for its end; returns its record.
        func globalRound(_ task: String) async throws -> [String: Any] {
            let started = try await admin(["global", "start", task])
            #expect(started.status == 0, "\(started.explanation)")
            let id = try #require(try started.json() as? [String: Any])["global_round"] as? String
            return try await waitForEnd(of: try #require(id))
        }

        /// The record of global round `id` once it is no longer running.
        func waitForEnd(of id: String) async throws -> [String: Any] {
            let end = ContinuousClock.now + .seconds(300)
            while ContinuousClock.now < end {
                let shown = try await admin(["global", "show", id])
                let record = try #require(try shown.json() as? [String: Any])
                if record["state"] as? String != "running" { return record }
                try await Task.sleep(for: .milliseconds(500))
            }
            Issue.record("global round \(id) still running after 300 s")
            return [:]
        }
    }

    static func indented(_ task: String) -> String {
        task.split(separator: "\n").enumerated().map { $0.offset == 0 ? "  - \($0.element)" : "    \($0.element)" }.joined(separator: "\n")
    }

    @Test("clients placed by the root, a global sum over three shards, a forged then a replayed release refused, a lost shard excluded")
    func globalRounds() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("secagg-root-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let rootKey = try IdentityFile.create(at: folder.appendingPathComponent("root.key").path).verifyingKey
        let operatorKey = "\(try IdentityFile.create(at: folder.appendingPathComponent("operator.key").path).verifyingKey)"
        var shards: [Shard] = []
        for name in ["shard-a", "shard-b", "shard-c"] { shards.append(try await Shard(name: name, adminKeys: ["\(rootKey)", operatorKey])) }
        let impostor = try await Impostor(rootKey: rootKey)
        let serving = Task { await impostor.server.serve({ request, _ in impostor.answer(request) }) }
        defer {
            impostor.server.stop()
            serving.cancel()
            for shard in shards where shard.daemon.process.isRunning { kill(shard.daemon.process.processIdentifier, SIGKILL) }
        }
        let root = try await Root.start(
            in: folder, shards: shards.map(\.entry) + [impostor.entry(name: "shard-d")], operatorKey: operatorKey,
            global: "{min_cohorts: 2, min_clients: 6, deadline_seconds: 120}", tasks: Self.indented(Self.task))
        defer { if root.daemon.process.isRunning { kill(root.daemon.process.processIdentifier, SIGKILL) } }

        // Three clients for each real shard: keys drawn until placement (among all four names) gives each three.
        let names = ["shard-a", "shard-b", "shard-c", "shard-d"]
        var clients: [String: [(file: URL, key: Ed25519.VerifyingKey, input: [UInt64])]] = [:]
        var drawn = 0
        while names.prefix(3).contains(where: { clients[$0, default: []].count < 3 }) {
            drawn += 1
            let file = folder.appendingPathComponent("client-\(drawn).key")
            let key = try IdentityFile.create(at: file.path).verifyingKey
            let shard = try #require(ShardPlacement.shard(for: key, among: names))
            guard shard != "shard-d", clients[shard, default: []].count < 3 else {
                if shard == "shard-d" {
                    // The impostor takes no clients: the root refuses the enrollment and places nothing.
                    let refused = try await root.admin(["enroll", "\(key)", "--label", "d\(drawn)"])
                    #expect(refused.status != 0 && refused.errors.contains("shard shard-d refused"), "\(refused.explanation)")
                }
                continue
            }
            let enrolled = try await root.admin(["enroll", "\(key)", "--label", "c\(drawn)"])
            #expect(enrolled.status == 0, "\(enrolled.explanation)")
            let answer = try #require(try enrolled.json() as? [String: Any])
            #expect(answer["shard"] as? String == shard)
            let real = try #require(shards.first { $0.name == shard })
            #expect(answer["clients"] as? String == "127.0.0.1:\(real.world.port)")
            #expect(answer["shard_key"] as? String == real.world.coordinatorKey)
            clients[shard, default: []].append((file, key, (0..<4).map { UInt64((drawn * 13 + $0 * 5) % 101) }))
        }
        // A key already placed is refused at enrollment, not discovered later.
        let twice = try #require(clients["shard-a"]?.first)
        let again = try await root.admin(["enroll", "\(twice.key)", "--label", "again"])
        #expect(again.status != 0 && again.errors.contains("already enrolled, on shard shard-a"), "\(again.explanation)")

        // Every shard got the task from the root (pushed when the root first reached it).
        for shard in shards {
            let end = ContinuousClock.now + .seconds(60)
            var shown = try await shardAdmin(shard, ["task", "show", "sum"], operatorKey: folder)
            while shown.status != 0, ContinuousClock.now < end {
                try await Task.sleep(for: .milliseconds(300))
                shown = try await shardAdmin(shard, ["task", "show", "sum"], operatorKey: folder)
            }
            #expect(shown.status == 0, "\(shard.name) never got the task: \(shown.explanation)")
        }

        func participate(_ shard: Shard) throws -> [ClientProcess] {
            try clients[shard.name, default: []].enumerated().map { index, client in
                let input = folder.appendingPathComponent("\(shard.name)-\(index).json")
                try ("[" + client.input.map(String.init).joined(separator: ",") + "]").write(to: input, atomically: true, encoding: .utf8)
                return try TestWorld.launchClient(
                    TestWorld.locateBinaries().appendingPathComponent("secagg"),
                    arguments: [
                        "participate", "--coordinator", "127.0.0.1:\(shard.world.port)", "--coordinator-key", shard.world.coordinatorKey,
                        "--identity", client.file.path, "--task", "sum", "--input", input.path, "--json", "--connect-attempts", "20",
                    ], in: folder, name: "\(shard.name)-\(index)")
            }
        }
        func expected(_ included: [Shard]) -> [Int] {
            var sum = [Int](repeating: 0, count: 4)
            for shard in included { for client in clients[shard.name, default: []] { for i in 0..<4 { sum[i] += Int(client.input[i]) } } }
            return sum
        }

        // Global round 1: three real cohorts; the impostor's forged release is excluded.
        var running = try shards.flatMap(participate)
        let first = try await root.globalRound("sum")
        #expect(first["state"] as? String == "released", "\(first)")
        #expect(first["sum"] as? [Int] == expected(shards), "\(first)")
        #expect(first["survivors"] as? Int == 9)
        #expect(first["bits"] as? Int == 34, "32 bits and two more for three cohorts")
        #expect((first["included"] as? [[String: Any]])?.compactMap { $0["shard"] as? String } == ["shard-a", "shard-b", "shard-c"])
        let firstExcluded = try #require(first["excluded"] as? [[String: Any]])
        #expect(firstExcluded.count == 1 && firstExcluded.first?["shard"] as? String == "shard-d")
        #expect((firstExcluded.first?["reason"] as? String)?.contains("signature does not verify") == true, "\(firstExcluded)")
        for client in running { #expect(await client.waitForExit(within: .seconds(60)) == 0, "\(client.transcript())") }

        // Global round 2: shard-c is lost during it (two of its three clients wait, so its round has not started
        // when it dies); the impostor replays its first release; a and b still make the policy.
        running = try shards.prefix(2).flatMap(participate)
        let stranded = try participate(shards[2]).enumerated().filter { index, client in
            if index == 2 { kill(client.process.processIdentifier, SIGKILL) }
            return index < 2
        }.map(\.element)
        let startedSecond = try await root.admin(["global", "start", "sum"])
        #expect(startedSecond.status == 0, "\(startedSecond.explanation)")
        let secondID = try #require(try startedSecond.json() as? [String: Any])["global_round"] as? String
        try await Task.sleep(for: .seconds(1))
        kill(shards[2].daemon.process.processIdentifier, SIGKILL)
        _ = await shards[2].daemon.waitForExit(within: .seconds(30))
        for client in stranded { kill(client.process.processIdentifier, SIGKILL) }
        let second = try await root.waitForEnd(of: try #require(secondID))
        #expect(second["state"] as? String == "released", "\(second)")
        #expect(second["sum"] as? [Int] == expected(Array(shards.prefix(2))), "\(second)")
        #expect(second["survivors"] as? Int == 6)
        let secondExcluded = Dictionary(uniqueKeysWithValues: try #require(second["excluded"] as? [[String: Any]]).map {
            ($0["shard"] as? String ?? "?", $0["reason"] as? String ?? "")
        })
        #expect(secondExcluded["shard-c"]?.contains("unreachable") == true, "\(secondExcluded)")
        #expect(secondExcluded["shard-d"]?.contains("a replay") == true, "\(secondExcluded)")
        for client in running { #expect(await client.waitForExit(within: .seconds(60)) == 0, "\(client.transcript())") }

        // Both are listed, exported, and the shards' placements counted.
        let listed = try #require(try await root.admin(["global", "list", "--task", "sum"]).json() as? [[String: Any]])
        #expect(listed.map { $0["state"] as? String } == ["released", "released"])
        let csv = try await root.admin(["global", "export", try #require(second["global_round"] as? String), "--format", "csv"])
        #expect(csv.text.split(separator: "\n").count == 5, "\(csv.explanation)")
        let shardList = try #require(try await root.admin(["global", "shards"]).json() as? [[String: Any]])
        #expect(shardList.map { $0["placed_clients"] as? Int } == [3, 3, 3, 0])
    }

    /// `secagg admin` against a shard as the operator (whose key the shard admits).
    func shardAdmin(_ shard: Shard, _ arguments: [String], operatorKey folder: URL) async throws -> CommandRun {
        try await TestWorld.runSecagg(
            ["admin"] + arguments + [
                "--daemon", "127.0.0.1:\(shard.adminPort)", "--identity", folder.appendingPathComponent("operator.key").path,
                "--coordinator-key", shard.world.coordinatorKey,
            ], in: folder)
    }

    @Test("the global ledger refuses the global round that would overspend the task's budget")
    func globalBudget() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("secagg-root-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        _ = try IdentityFile.create(at: folder.appendingPathComponent("root.key").path)
        let operatorKey = "\(try IdentityFile.create(at: folder.appendingPathComponent("operator.key").path).verifyingKey)"
        let dp = """
            name: dp
            dimension: 4
            max_input: 100
            min_clients: 10
            max_clients: 100
            start: on_request
            privacy: {noise: central, epsilon_per_round: 1, delta: 1.0e-6, clip: 100, budget_epsilon: 3}
            """
        // No shard answers (port 1 refuses at once), so each global round ends quickly, excluded and aborted: it was
        // charged all the same, as a shard's round is charged before it starts.
        let dead = newSigningKey().verifyingKey
        let root = try await Root.start(
            in: folder, shards: ["{name: gone, admin: \"127.0.0.1:1\", key: \"\(dead)\", clients: \"127.0.0.1:1\"}"],
            operatorKey: operatorKey, global: "{deadline_seconds: 5, admin_timeout_seconds: 2}", tasks: Self.indented(dp))
        defer { if root.daemon.process.isRunning { kill(root.daemon.process.processIdentifier, SIGKILL) } }

        // How many rounds the budget pays for, from the same calibration and ledger the root uses.
        let task = try ConfigurationFile.task(definition: dp)
        let calibration = try #require(try task.globalRoundCalibration())
        var ledger = try PrivacyBudget(epsilon: 3, delta: 1e-6)
        var affordable = 0
        while (try? ledger.charge(roundID: "r\(affordable)", calibration: calibration, clip: 100, bits: task.bits)) != nil { affordable += 1 }
        try #require(affordable >= 1 && affordable < 10)

        for _ in 0..<affordable {
            let record = try await root.globalRound("dp")
            #expect(record["state"] as? String == "aborted", "\(record)")
            #expect((record["excluded"] as? [[String: Any]])?.first?["reason"] as? String != nil)
        }
        let refused = try await root.admin(["global", "start", "dp"])
        #expect(refused.status != 0 && refused.errors.contains("global privacy budget of task 'dp' refuses the round"), "\(refused.explanation)")
        let budget = try #require(try await root.admin(["budget", "show", "dp"]).json() as? [String: Any])
        #expect((budget["entries"] as? [Any])?.count == affordable)
        #expect((budget["epsilon_spent"] as? Double ?? .infinity) <= 3)
    }

    @Test("global.every_seconds starts global rounds on its own, each recorded")
    func scheduled() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("secagg-root-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        _ = try IdentityFile.create(at: folder.appendingPathComponent("root.key").path)
        let operatorKey = "\(try IdentityFile.create(at: folder.appendingPathComponent("operator.key").path).verifyingKey)"
        let root = try await Root.start(
            in: folder, shards: ["{name: gone, admin: \"127.0.0.1:1\", key: \"\(newSigningKey().verifyingKey)\", clients: \"127.0.0.1:1\"}"],
            operatorKey: operatorKey, global: "{deadline_seconds: 5, admin_timeout_seconds: 2, every_seconds: 1}",
            tasks: Self.indented(Self.task))
        defer { if root.daemon.process.isRunning { kill(root.daemon.process.processIdentifier, SIGKILL) } }
        let end = ContinuousClock.now + .seconds(60)
        var listed: [[String: Any]] = []
        while listed.filter({ $0["state"] as? String == "aborted" }).count < 2, ContinuousClock.now < end {
            try await Task.sleep(for: .milliseconds(500))
            listed = try #require(try await root.admin(["global", "list"]).json() as? [[String: Any]])
        }
        #expect(listed.filter { $0["state"] as? String == "aborted" }.count >= 2, "\(listed)")
        #expect(listed.allSatisfy { $0["task"] as? String == "sum" })
    }

    @Test("secagg-root refuses a configuration with a misspelt key or an unknown SECAGG_ROOT_ variable")
    func configurationFailsClosed() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("secagg-root-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        _ = try IdentityFile.create(at: folder.appendingPathComponent("root.key").path)
        let key = newSigningKey().verifyingKey
        let good = """
            identity: root.key
            admin: {host: 127.0.0.1, port: 0, keys: ["\(key)"]}
            shards:
              - {name: shard-0, admin: "127.0.0.1:7462", key: "\(newSigningKey().verifyingKey)", clients: "127.0.0.1:7461"}
            global: {min_cohorts: 1}
            """
        let file = folder.appendingPathComponent("root.yaml")
        try good.write(to: file, atomically: true, encoding: .utf8)
        #expect(try RootConfiguration.load(from: file.path).shards.map(\.name) == ["shard-0"])
        try good.replacingOccurrences(of: "min_cohorts", with: "min_cohort").write(to: file, atomically: true, encoding: .utf8)
        #expect(throws: CoordinatorConfigurationError.self) { try RootConfiguration.load(from: file.path) }
        try good.write(to: file, atomically: true, encoding: .utf8)
        #expect(throws: CoordinatorConfigurationError.self) {
            try RootConfiguration.load(from: file.path, environment: ["SECAGG_ROOT_ADMIN_PORT": "1"])
        }
        try good.replacingOccurrences(of: "min_cohorts: 1", with: "min_cohorts: 2").write(to: file, atomically: true, encoding: .utf8)
        #expect(throws: CoordinatorConfigurationError.self) { try RootConfiguration.load(from: file.path) }
        // A root's task must leave the start of its shards' rounds to global rounds.
        let task = "tasks:\n  - {name: t, dimension: 2, max_input: 9, min_clients: 3, max_clients: 3}\n"
        try (good + "\n" + task).write(to: file, atomically: true, encoding: .utf8)
        #expect {
            try RootConfiguration.load(from: file.path)
        } throws: { error in
            (error as? CoordinatorConfigurationError)?.problems.contains { $0.contains("start: on_request") } == true
        }
        try (good + "\n" + task.replacingOccurrences(of: "max_clients: 3}", with: "max_clients: 3, start: on_request}"))
            .write(to: file, atomically: true, encoding: .utf8)
        #expect(try RootConfiguration.load(from: file.path).tasks.map(\.configuration.startsOnRequest) == [true])
    }
}

/// A fresh key from the system's CSPRNG.
private func newSigningKey() -> Ed25519.SigningKey {
    var random = SystemRandom()
    return Ed25519.SigningKey(using: &random)
}
