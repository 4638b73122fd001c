import NIOConcurrencyHelpers
import Foundation
import SecAggCrypto
import SecAggIdentity
import SecAggTransport
import Synchronization
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
        let daemon = try world.startDaemon()
        let crashes = ["advertise", "advertise", "share", "share", "masked", "masked", "unmask", "unmask"]
        var clients: [ClientProcess] = []
        for index in 0..<24 {
            clients.append(try world.startClient(index, task: "e2e", crashAt: index < crashes.count ? crashes[index] : nil))
        }
        for client in clients { client.process.waitUntilExit() }
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
            let daemon = try world.startDaemon()
            let clients = try (0..<5).map { try world.startClient($0, task: "restart") }
            for client in clients {
                client.process.waitUntilExit()
                #expect(client.process.terminationStatus == 0, "round \(round): \(client.transcript())")
            }
            try await Task.sleep(for: .milliseconds(200))
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
        let daemon = try world.startDaemon()
        var clients = try (0..<6).map { try world.startClient($0, task: "queue") }
        // The first six fill a round at once; these three arrive while it runs.
        clients += try (6..<9).map { try world.startClient($0, task: "queue") }
        var rounds: [String: Int] = [:]
        for client in clients {
            client.process.waitUntilExit()
            #expect(client.process.terminationStatus == 0, "\(client.transcript())")
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
        let (status, data) = try await TestWorld.runSecagg(
            ["simulate", "--transport", "tcp", "--clients", "20", "--dimension", "300", "--json"] + arguments)
        #expect(status == 0)
        let report = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(report["verified"] as? Bool == true)
        let rmse = try #require(report["rmse"] as? Double)
        let predicted = try #require(report["predicted_rmse"] as? Double)
        #expect(abs(rmse / predicted - 1) < 0.25, "rmse \(rmse) vs predicted \(predicted)")
    }
}

/// `secagg dp plan`: the plan for a target ε achieves that ε, and planning with the σ it chose gives it back.
@Suite("DP planning command")
struct DPPlanCommandTests {
    static func plan(_ arguments: [String]) async throws -> [String: Any] {
        let (status, data) = try await TestWorld.runSecagg(
            ["dp", "plan", "--clients", "1000", "--min-survivors", "500", "--dimension", "10000", "--clip", "100",
             "--json"] + arguments)
        #expect(status == 0)
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
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
    }
}

/// A temporary folder with a coordinator identity, client identities and inputs, and the binaries to run.
final class TestWorld: Sendable {
    let folder: URL
    let binaries: URL
    let coordinatorKey: String
    let publicKeys: [String]
    let inputs: [[UInt64]]
    /// The port of the daemon started last (it binds port 0 and logs the port it got, so tests never collide).
    private let currentPort = NIOLockedValueBox<Int>(0)
    var port: Int { currentPort.withLockedValue { $0 } }

    init(clients: Int) throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("secagg-e2e-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        binaries = try Self.locateBinaries()
        coordinatorKey = "\(try IdentityFile.create(at: folder.appendingPathComponent("coordinator.key").path).verifyingKey)"
        var keys: [String] = []
        var inputs: [[UInt64]] = []
        for index in 0..<clients {
            keys.append("\(try IdentityFile.create(at: folder.appendingPathComponent("client-\(index).key").path).verifyingKey)")
            inputs.append((0..<16).map { UInt64((index * 31 + $0 * 7) % 101) })
        }
        publicKeys = keys
        self.inputs = inputs
        try (keys.joined(separator: "\n") + "\n").write(to: folder.appendingPathComponent("enrolled.txt"), atomically: true, encoding: .utf8)
    }

    deinit {
        try? FileManager.default.removeItem(at: folder)
    }

    func writeConfiguration(task: String, extra: String = "") throws {
        let text = """
            listen: {host: 127.0.0.1, port: 0}
            identity: coordinator.key
            enrollment: {file: enrolled.txt}
            results_directory: results
            \(extra)
            tasks:
            \(task)
            """
        try text.write(to: folder.appendingPathComponent("secaggd.yaml"), atomically: true, encoding: .utf8)
    }

    func startDaemon(arguments: [String] = []) throws -> DaemonProcess {
        let process = Process()
        process.executableURL = binaries.appendingPathComponent("secaggd")
        process.arguments = ["--config", folder.appendingPathComponent("secaggd.yaml").path] + arguments
        let log = folder.appendingPathComponent("secaggd-\(UUID().uuidString).log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        process.standardError = handle
        process.standardOutput = handle
        try process.run()
        // Wait until it listens, and learn its port from the log line `address=127.0.0.1:PORT … listening`.
        for _ in 0..<400 {
            if let text = try? String(contentsOf: log, encoding: .utf8), text.contains("listening"),
               let range = text.range(of: "address=127.0.0.1:") {
                let digits = text[range.upperBound...].prefix { $0.isNumber }
                if let bound = Int(digits) {
                    currentPort.withLockedValue { $0 = bound }
                    break
                }
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
        return DaemonProcess(process: process, log: log)
    }

    func startClient(_ index: Int, task: String, crashAt: String? = nil) throws -> ClientProcess {
        let input = folder.appendingPathComponent("input-\(index).json")
        try ("[" + inputs[index].prefix(dimension(task)).map(String.init).joined(separator: ",") + "]")
            .write(to: input, atomically: true, encoding: .utf8)
        let process = Process()
        let common = [
            "--coordinator", "127.0.0.1:\(port)", "--coordinator-key", coordinatorKey,
            "--identity", folder.appendingPathComponent("client-\(index).key").path, "--task", task, "--input", input.path,
        ]
        if let crashAt {
            // The test tool that exits abruptly at a phase (the shipped command line has no such hook).
            process.executableURL = binaries.appendingPathComponent("secagg-crashing-client")
            process.arguments = common + ["--crash-at", crashAt]
        } else {
            process.executableURL = binaries.appendingPathComponent("secagg")
            process.arguments = ["participate"] + common + ["--json", "--connect-attempts", "20"]
        }
        let output = folder.appendingPathComponent("client-\(index)-\(UUID().uuidString).out")
        _ = FileManager.default.createFile(atPath: output.path, contents: nil)
        let handle = try FileHandle(forWritingTo: output)
        process.standardOutput = handle
        let errors = folder.appendingPathComponent("client-\(index)-\(UUID().uuidString).err")
        _ = FileManager.default.createFile(atPath: errors.path, contents: nil)
        process.standardError = try FileHandle(forWritingTo: errors)
        try process.run()
        return ClientProcess(process: process, outputFile: output, errorFile: errors)
    }

    private func dimension(_ task: String) -> Int {
        let text = (try? String(contentsOf: folder.appendingPathComponent("secaggd.yaml"), encoding: .utf8)) ?? ""
        let line = text.split(separator: "\n").first { $0.contains("dimension:") } ?? "dimension: 16"
        return Int(line.split(separator: ":").last.map { $0.trimmingCharacters(in: .whitespaces) } ?? "16") ?? 16
    }

    func expectedSum(of survivors: [String]) -> [UInt64] {
        let width = dimension("")
        var sum = [UInt64](repeating: 0, count: width)
        for identity in survivors {
            guard let index = publicKeys.firstIndex(of: identity) else { continue }
            for position in 0..<width { sum[position] += inputs[index][position] }
        }
        return sum
    }

    func results(task: String) throws -> [[String: Any]] {
        let directory = folder.appendingPathComponent("results").appendingPathComponent(task)
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".json") }
        return try files.map { name in
            let data = try Data(contentsOf: directory.appendingPathComponent(name))
            return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        }
    }

    func onlyResult(task: String) throws -> [String: Any] {
        let all = try results(task: task)
        try #require(all.count == 1, "expected one result, found \(all.count)")
        return all[0]
    }

    /// Runs `secagg` with `arguments` and returns its exit status and standard output. The wait happens on a thread
    /// of its own: a test blocking in `waitUntilExit` would hold one of the concurrency pool's threads (two on a
    /// 2-core machine) and starve the other tests' handshakes into timeouts.
    static func runSecagg(_ arguments: [String]) async throws -> (status: Int32, output: Data) {
        let process = Process()
        process.executableURL = try locateBinaries().appendingPathComponent("secagg")
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        try process.run()
        let running = RunningProcess(process: process, output: pipe)
        return await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                let data = running.output.fileHandleForReading.readDataToEndOfFile()
                running.process.waitUntilExit()
                continuation.resume(returning: (running.process.terminationStatus, data))
            }
        }
    }

    static func locateBinaries() throws -> URL {
        var candidates: [URL] = []
        if let override = ProcessInfo.processInfo.environment["SECAGG_BIN_DIR"] {
            candidates.append(URL(fileURLWithPath: override))
        }
        let runner = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        candidates.append(runner.deletingLastPathComponent())
        candidates.append(runner.deletingLastPathComponent().deletingLastPathComponent())
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        candidates.append(root.appendingPathComponent(".build/debug"))
        for candidate in candidates
        where FileManager.default.isExecutableFile(atPath: candidate.appendingPathComponent("secaggd").path)
            && FileManager.default.isExecutableFile(atPath: candidate.appendingPathComponent("secagg").path) {
            return candidate
        }
        throw BinariesMissing(searched: candidates.map(\.path))
    }
}

/// A started process and the pipe of its standard output, handed to the thread that waits for it.
struct RunningProcess: @unchecked Sendable {
    let process: Process
    let output: Pipe
}

struct BinariesMissing: Error, CustomStringConvertible {
    var searched: [String]
    var description: String { "secagg and secaggd not found (build them first); searched \(searched)" }
}

struct DaemonProcess: @unchecked Sendable {
    let process: Process
    let log: URL

    /// The exit status, or nil if it did not exit in time (it is then killed).
    func waitForExit(within timeout: Duration) async -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(50))
        }
        if process.isRunning {
            process.interrupt()
            kill(process.processIdentifier, SIGKILL)
            return nil
        }
        return process.terminationStatus
    }
}

struct ClientProcess: @unchecked Sendable {
    let process: Process
    let outputFile: URL
    let errorFile: URL

    /// Standard output (the receipt).
    func output() -> String {
        (try? String(contentsOf: outputFile, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
    }

    /// Standard output and standard error, for failure messages.
    func transcript() -> String {
        let errors = (try? String(contentsOf: errorFile, encoding: .utf8)) ?? ""
        return output() + (errors.isEmpty ? "" : " | stderr: " + errors.trimmingCharacters(in: .whitespacesAndNewlines))
    }
}
