import Foundation
import SecAggCoordinator
import SecAggCrypto
import SecAggIdentity
import SecAggTransport
import SecAggTesting
import Testing

/// `secagg admin` against a real `secaggd` over loopback, and `kill -9` of the daemon in the middle of a round.
@Suite("Admin and crash recovery, with processes", .serialized)
struct AdminEndToEndTests {
    /// The admin listener's port, from the daemon's `admin listening … endpoint=127.0.0.1:PORT` log line.
    static func adminPort(_ daemon: DaemonProcess) throws -> Int {
        let text = try String(contentsOf: daemon.log, encoding: .utf8)
        let range = try #require(text.range(of: "endpoint=127.0.0.1:"), "no admin listener in the log: \(text)")
        return try #require(Int(text[range.upperBound...].prefix { $0.isNumber }))
    }

    static func count(_ needle: String, in daemon: DaemonProcess) -> Int {
        let text = (try? String(contentsOf: daemon.log, encoding: .utf8)) ?? ""
        return text.components(separatedBy: needle).count - 1
    }

    @Test("every admin command against a running daemon; wrong key and unreachable daemon explained")
    func adminCommands() async throws {
        let world = try TestWorld(clients: 4)
        let adminKey = try IdentityFile.create(at: world.folder.appendingPathComponent("admin.key").path)
        _ = try IdentityFile.create(at: world.folder.appendingPathComponent("intruder.key").path)
        // Only the first three clients are in the configuration; the fourth is enrolled by the operator.
        try (world.publicKeys.prefix(3).joined(separator: "\n") + "\n")
            .write(to: world.folder.appendingPathComponent("enrolled.txt"), atomically: true, encoding: .utf8)
        try world.writeConfiguration(task: """
              - name: sum
                dimension: 4
                max_input: 100
                graph: complete
                min_clients: 3
                max_clients: 10
                gather_seconds: 600
                timeouts: {advertise: 10, share: 10, masked: 10, unmask: 10}
            """, extra: """
            store: {path: store.sqlite}
            admin: {host: 127.0.0.1, port: 0, keys: ["\(adminKey.verifyingKey)"]}
            """)
        var daemon = try await world.startDaemon(arguments: ["--log-level", "debug"])
        defer { if daemon.process.isRunning { kill(daemon.process.processIdentifier, SIGKILL) } }
        var port = try Self.adminPort(daemon)
        func admin(_ arguments: [String], key: String = "admin.key") async throws -> CommandRun {
            try await TestWorld.runSecagg(["admin"] + arguments + [
                "--daemon", "127.0.0.1:\(port)", "--identity", world.folder.appendingPathComponent(key).path,
                "--coordinator-key", world.coordinatorKey, "--timeout", "30",
            ], in: world.folder)
        }
        func object(_ run: CommandRun) throws -> [String: Any] {
            #expect(run.status == 0, "\(run.explanation)")
            return try #require(try run.json() as? [String: Any], "\(run.explanation)")
        }
        func list(_ run: CommandRun) throws -> [[String: Any]] {
            #expect(run.status == 0, "\(run.explanation)")
            return try #require(try run.json() as? [[String: Any]], "\(run.explanation)")
        }

        // Clients: seeded from the configuration, enroll, revoke.
        #expect(try await list(admin(["list", "clients"])).count == 3)
        #expect(try await object(admin(["enroll", world.publicKeys[3], "--label", "late"]))["new"] as? Bool == true)
        #expect(try await object(admin(["revoke", world.publicKeys[2]]))["revoked"] as? Bool == true)
        let clients = try await list(admin(["list", "clients"]))
        #expect(clients.count == 4)
        #expect(clients.first { $0["public_key"] as? String == world.publicKeys[2] }?["active"] as? Bool == false)
        #expect(clients.first { $0["public_key"] as? String == world.publicKeys[3] }?["label"] as? String == "late")
        let again = try await admin(["revoke", world.publicKeys[2]])
        #expect(again.status != 0 && again.errors.contains("not enrolled"))

        // Tasks: create one with DP, list, show; its budget is untouched.
        let definition = world.folder.appendingPathComponent("dp.yaml")
        try """
            name: dp
            dimension: 8
            max_input: 10
            min_clients: 3
            max_clients: 5
            privacy: {noise: central, epsilon_per_round: 1, clip: 30, budget_epsilon: 3}
            """.write(to: definition, atomically: true, encoding: .utf8)
        let created = try await object(admin(["task", "create", definition.path]))
        #expect(created["privacy"] as? String == "central")
        let duplicate = try await admin(["task", "create", definition.path])
        #expect(duplicate.status != 0 && duplicate.errors.contains("exists already"))
        try "name: bad\ndimension: 0\nmax_input: 1\nmin_clients: 3\nmax_clients: 2\n"
            .write(to: definition, atomically: true, encoding: .utf8)
        let invalid = try await admin(["task", "create", definition.path])
        #expect(invalid.status != 0 && invalid.errors.contains("dimension"))
        #expect(Set(try await list(admin(["task", "list"])).compactMap { $0["name"] as? String }) == ["sum", "dp"])
        let shown = try await object(admin(["task", "show", "dp"]))
        #expect((shown["definition"] as? [String: Any])?["dimension"] as? Int == 8)
        #expect(shown["source"] as? String == "admin")
        // The operator raises the budget, pauses the task and resumes it (issue 12: no task could be changed).
        try """
            name: dp
            dimension: 8
            max_input: 10
            min_clients: 3
            max_clients: 5
            privacy: {noise: central, epsilon_per_round: 1, clip: 30, budget_epsilon: 4}
            """.write(to: definition, atomically: true, encoding: .utf8)
        let updated = try await object(admin(["task", "update", definition.path]))
        #expect((updated["changed"] as? [String]) == ["privacy.budget_epsilon: 3 → 4"], "\(updated)")
        #expect(try await object(admin(["task", "pause", "dp"]))["state"] as? String == "paused")
        #expect(try await list(admin(["task", "list"])).first { $0["name"] as? String == "dp" }?["state"] as? String == "paused")
        #expect(try await object(admin(["task", "resume", "dp"]))["state"] as? String == "active")
        let budget = try await object(admin(["budget", "show", "dp"]))
        #expect(budget["epsilon_limit"] as? Double == 4)
        #expect(budget["epsilon_spent"] as? Double == 0)
        #expect((budget["entries"] as? [Any])?.isEmpty == true)
        #expect(try await admin(["budget", "show", "sum"]).status != 0)

        // Rounds: nobody waits, so a requested round is refused; then three clients (one enrolled by the admin)
        // wait, and the operator starts the round without waiting for the 600-second gather window.
        let early = try await admin(["round", "start", "sum"])
        #expect(early.status != 0 && early.errors.contains("only 0 client(s)"))
        let idle = try await admin(["round", "watch", "sum"])
        #expect(idle.status == 0 && idle.text.contains("no round yet"))
        let clients013 = try [0, 1, 3].map { try world.startClient($0, task: "sum") }
        #expect(await daemon.logLines(containing: "joined", count: 3))
        #expect(try await object(admin(["task", "show", "sum"]))["waiting"] as? Int == 3)
        #expect(try await object(admin(["round", "start", "sum"]))["requested"] as? Bool == true)
        for client in clients013 {
            #expect(await client.waitForExit(within: .seconds(120)) == 0, "\(client.transcript())")
        }
        // The revoked client is refused at the handshake.
        let revoked = try await TestWorld.runSecagg([
            "participate", "--coordinator", "127.0.0.1:\(world.port)", "--coordinator-key", world.coordinatorKey,
            "--identity", world.folder.appendingPathComponent("client-2.key").path, "--task", "sum",
            "--input", world.folder.appendingPathComponent("input-0.json").path, "--connect-attempts", "1",
        ], in: world.folder)
        #expect(revoked.status != 0)

        let rounds = try await list(admin(["round", "list", "--task", "sum"]))
        #expect(rounds.count == 1)
        let round = try #require(rounds.first)
        #expect(round["state"] as? String == "completed")
        #expect(round["survivors"] as? Int == 3)
        let roundID = try #require(round["round_id"] as? String)
        let watched = try await admin(["round", "watch", "sum"])
        #expect(watched.text.contains("round \(roundID): completed, 3 survivors"))
        let result = try await object(admin(["result", "show", roundID]))
        let survivors = try #require(result["survivor_identities"] as? [String])
        let expected = world.expectedSum(of: survivors)
        #expect((result["sum"] as? [NSNumber])?.map(\.uint64Value) == expected)
        let csv = try await admin(["result", "export", roundID, "--format", "csv"])
        #expect(csv.text == "index,value\n" + expected.enumerated().map { "\($0.offset),\($0.element)\n" }.joined())
        let exported = try await object(admin(["result", "export", roundID, "--format", "json"]))
        #expect((exported["sum"] as? [NSNumber])?.map(\.uint64Value) == expected)
        let missing = try await admin(["result", "show", String(repeating: "0", count: 32)])
        #expect(missing.status != 0 && missing.errors.contains("no round"))

        // A key the daemon does not list, and a daemon that is not there.
        let intruder = try await admin(["list", "clients"], key: "intruder.key")
        #expect(intruder.status != 0 && intruder.errors.contains("is not in the daemon's admin.keys"), "\(intruder.errors)")
        let savedPort = port
        port = 1
        let unreachable = try await admin(["list", "clients"])
        #expect(unreachable.status != 0 && unreachable.errors.contains("cannot reach"), "\(unreachable.errors)")
        port = savedPort

        // After a restart the store still has the operator's changes: the revoked key stays revoked although the
        // configuration lists it, and the created task still runs.
        daemon.process.terminate()
        #expect(await daemon.waitForExit(within: .seconds(15)) == 0)
        daemon = try await world.startDaemon()
        port = try Self.adminPort(daemon)
        let after = try await list(admin(["list", "clients"]))
        #expect(after.first { $0["public_key"] as? String == world.publicKeys[2] }?["active"] as? Bool == false)
        #expect(Set(try await list(admin(["task", "list"])).compactMap { $0["name"] as? String }) == ["sum", "dp"])
        #expect(try await list(admin(["round", "list"])).count == 1)
        daemon.process.terminate()
        #expect(await daemon.waitForExit(within: .seconds(15)) == 0)
    }

    @Test("kill -9 during a round: after the restart the round is aborted, its charge refunded, nothing lost or doubled")
    func killDuringRound() async throws {
        let world = try TestWorld(clients: 9)
        let adminKey = try IdentityFile.create(at: world.folder.appendingPathComponent("admin.key").path)
        try world.writeConfiguration(task: """
              - name: crash
                dimension: 4
                max_input: 100
                graph: complete
                min_clients: 3
                max_clients: 4
                gather_seconds: 3
                timeouts: {advertise: 60, share: 60, masked: 60, unmask: 60}
                privacy: {noise: distributed, epsilon_per_round: 1, clip: 200, budget_epsilon: 1.6}
            """, extra: """
            store: {path: store.sqlite}
            admin: {port: 0, keys: ["\(adminKey.verifyingKey)"]}
            """)
        // Round 1 completes.
        var daemon = try await world.startDaemon(arguments: ["--log-level", "debug"])
        let first = try (0..<3).map { try world.startClient($0, task: "crash") }
        for client in first {
            #expect(await client.waitForExit(within: .seconds(120)) == 0, "\(client.transcript())")
        }
        // Round 2: three clients join; one is frozen as soon as it has joined, within the 3-second gather window, so
        // the round waits in its first phase (its second, on a machine slow enough to let the frozen client answer
        // the first) — and the coordinator is killed there, before any masked input.
        let second = try (3..<6).map { try world.startClient($0, task: "crash") }
        #expect(await daemon.logLines(containing: "joined", count: 6))
        kill(second[2].process.processIdentifier, SIGSTOP)
        #expect(await daemon.logLines(containing: "round starting", count: 2))
        // The operator sees the round stuck: two of the three expected messages in (asked until both are in: the
        // two running clients answer within moments).
        var watch = CommandRun(status: -1, output: Data(), errors: "")
        for _ in 0..<50 where !watch.text.contains("expected 3, received 2, required") {
            watch = try await TestWorld.runSecagg([
                "admin", "round", "watch", "crash", "--once", "--daemon", "127.0.0.1:\(try Self.adminPort(daemon))",
                "--identity", world.folder.appendingPathComponent("admin.key").path, "--coordinator-key", world.coordinatorKey,
            ], in: world.folder)
        }
        #expect(watch.text.contains("expected 3, received 2, required"), "\(watch.explanation)")
        kill(daemon.process.processIdentifier, SIGKILL)
        _ = await daemon.waitForExit(within: .seconds(30))
        for client in second {
            kill(client.process.processIdentifier, SIGKILL)
            _ = await client.waitForExit(within: .seconds(30))
        }

        // Restart: the interrupted round is marked aborted; round 3 runs.
        daemon = try await world.startDaemon()
        #expect(Self.count("marked aborted", in: daemon) == 1)
        let third = try (6..<9).map { try world.startClient($0, task: "crash") }
        for client in third {
            #expect(await client.waitForExit(within: .seconds(120)) == 0, "\(client.transcript())")
        }
        daemon.process.terminate()
        #expect(await daemon.waitForExit(within: .seconds(15)) == 0)

        let store = try CoordinatorStore(path: world.folder.appendingPathComponent("store.sqlite").path)
        let rounds = try store.rounds(task: "crash").reversed().map { $0 }
        #expect(rounds.map(\.state) == ["completed", "aborted", "completed"])
        #expect(rounds[1].abortReason == "coordinator restarted")
        #expect(rounds[1].reachedPhase == .advertiseKeys || rounds[1].reachedPhase == .shareKeys)
        #expect(try store.resultCount() == 2)
        for round in [rounds[0], rounds[2]] {
            let result = try #require(try store.result(roundID: round.roundID))
            #expect(result.sum.count == 4 && result.survivorIdentities.count == 3 && result.noise == "distributed")
        }
        let ledger = try #require(try store.ledger(task: "crash"))
        #expect(ledger.entries.map(\.roundID) == rounds.map(\.roundID))
        #expect(ledger.entries.map(\.status) == [.released, .refunded, .released])
        // The JSON export has the two releases and the aborted round's record, none twice.
        let exported = try world.results(task: "crash")
        #expect(exported.filter { $0["outcome"] as? String == "completed" }.count == 2)
    }
}
