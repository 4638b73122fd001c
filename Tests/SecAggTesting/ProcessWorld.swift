import Foundation
import NIOConcurrencyHelpers
import SecAggIdentity
import Testing

/// A temporary folder with a coordinator identity, client identities and inputs, and the binaries to run.
package final class TestWorld: Sendable {
    package let folder: URL
    package let binaries: URL
    package let coordinatorKey: String
    package let publicKeys: [String]
    package let inputs: [[UInt64]]
    /// The port of the daemon started last (it binds port 0 and logs the port it got, so tests never collide).
    private let currentPort = NIOLockedValueBox<Int>(0)
    package var port: Int { currentPort.withLockedValue { $0 } }

    package init(clients: Int) throws {
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

    /// A task `queue` of three clients that starts only when all three wait (for tests of one client's process).
    package static let queueTask = """
          - name: queue
            dimension: 8
            max_input: 100
            graph: complete
            min_clients: 3
            max_clients: 3
        """

    package func writeConfiguration(task: String, extra: String = "") throws {
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

    /// Starts `secaggd` on this world's configuration and returns once it listens (its log says on which port:
    /// the daemon binds port 0, so tests never collide), or after 20 s.
    package func startDaemon(arguments: [String] = []) async throws -> DaemonProcess {
        let daemon = try Self.launch(
            binaries.appendingPathComponent("secaggd"),
            arguments: ["--config", folder.appendingPathComponent("secaggd.yaml").path] + arguments,
            log: folder.appendingPathComponent("secaggd-\(UUID().uuidString).log"))
        // The line `… address=127.0.0.1:PORT … listening …`.
        if let line = await daemon.output.lines.first(where: { $0.contains("listening") && $0.contains("address=127.0.0.1:") }, within: .seconds(20)),
           let range = line.range(of: "address=127.0.0.1:"), let bound = Int(line[range.upperBound...].prefix { $0.isNumber }) {
            currentPort.withLockedValue { $0 = bound }
        }
        return daemon
    }

    /// Starts a long-running binary (`secaggd`, `secagg-root`) with its standard output and error going to `log`,
    /// line by line awaitable.
    package static func launch(_ executable: URL, arguments: [String], log: URL) throws -> DaemonProcess {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        let output = try ProcessOutput(file: log)
        process.standardError = output.pipe
        process.standardOutput = output.pipe
        let exit = ProcessExit(process)
        try process.run()
        return DaemonProcess(process: process, log: log, output: output, exit: exit)
    }

    package func startClient(_ index: Int, task: String, crashAt: String? = nil) throws -> ClientProcess {
        let input = folder.appendingPathComponent("input-\(index).json")
        try ("[" + inputs[index].prefix(dimension(task)).map(String.init).joined(separator: ",") + "]")
            .write(to: input, atomically: true, encoding: .utf8)
        let common = [
            "--coordinator", "127.0.0.1:\(port)", "--coordinator-key", coordinatorKey,
            "--identity", folder.appendingPathComponent("client-\(index).key").path, "--task", task, "--input", input.path,
        ]
        if let crashAt {
            // The test tool that exits abruptly at a phase (the shipped command line has no such hook).
            return try Self.launchClient(
                binaries.appendingPathComponent("secagg-crashing-client"), arguments: common + ["--crash-at", crashAt],
                in: folder, name: "client-\(index)")
        }
        return try Self.launchClient(
            binaries.appendingPathComponent("secagg"), arguments: ["participate"] + common + ["--json", "--connect-attempts", "20"],
            in: folder, name: "client-\(index)")
    }

    /// Starts a client process (`secagg participate …`) whose standard output and error go to files in `folder`.
    package static func launchClient(_ executable: URL, arguments: [String], in folder: URL, name: String) throws -> ClientProcess {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        let output = folder.appendingPathComponent("\(name)-\(UUID().uuidString).out")
        _ = FileManager.default.createFile(atPath: output.path, contents: nil)
        let handle = try FileHandle(forWritingTo: output)
        process.standardOutput = handle
        let errors = folder.appendingPathComponent("\(name)-\(UUID().uuidString).err")
        _ = FileManager.default.createFile(atPath: errors.path, contents: nil)
        process.standardError = try FileHandle(forWritingTo: errors)
        let exit = ProcessExit(process)
        try process.run()
        return ClientProcess(process: process, outputFile: output, errorFile: errors, exit: exit)
    }

    private func dimension(_ task: String) -> Int {
        let text = (try? String(contentsOf: folder.appendingPathComponent("secaggd.yaml"), encoding: .utf8)) ?? ""
        let line = text.split(separator: "\n").first { $0.contains("dimension:") } ?? "dimension: 16"
        return Int(line.split(separator: ":").last.map { $0.trimmingCharacters(in: .whitespaces) } ?? "16") ?? 16
    }

    package func expectedSum(of survivors: [String]) -> [UInt64] {
        let width = dimension("")
        var sum = [UInt64](repeating: 0, count: width)
        for identity in survivors {
            guard let index = publicKeys.firstIndex(of: identity) else { continue }
            for position in 0..<width { sum[position] += inputs[index][position] }
        }
        return sum
    }

    package func results(task: String) throws -> [[String: Any]] {
        let directory = folder.appendingPathComponent("results").appendingPathComponent(task)
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".json") }
        return try files.map { name in
            let data = try Data(contentsOf: directory.appendingPathComponent(name))
            return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        }
    }

    package func onlyResult(task: String) throws -> [String: Any] {
        let all = try results(task: task)
        try #require(all.count == 1, "expected one result, found \(all.count)")
        return all[0]
    }

    /// Runs `secagg` with `arguments` to completion and returns its exit status, standard output and standard
    /// error. Both streams go through files in `folder` (a fresh temporary one if nil) and the exit is awaited by
    /// polling, so the test never blocks one of the concurrency pool's few threads (two on a 2-core machine), which
    /// would starve the other tests' handshakes into timeouts. A run still going after `limit` is killed (status -1).
    package static func runSecagg(
        _ arguments: [String], in folder: URL? = nil, within limit: Duration = .seconds(300)
    ) async throws -> CommandRun {
        let directory = folder ?? FileManager.default.temporaryDirectory.appendingPathComponent("secagg-run-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { if folder == nil { try? FileManager.default.removeItem(at: directory) } }
        let process = Process()
        process.executableURL = try locateBinaries().appendingPathComponent("secagg")
        process.arguments = arguments
        let name = UUID().uuidString
        let output = directory.appendingPathComponent("secagg-\(name).out")
        let errors = directory.appendingPathComponent("secagg-\(name).err")
        _ = FileManager.default.createFile(atPath: output.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errors.path, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: output)
        process.standardError = try FileHandle(forWritingTo: errors)
        let exit = ProcessExit(process)
        try process.run()
        let status = await exit.status(within: limit, killing: true) ?? -1
        return CommandRun(status: status, output: (try? Data(contentsOf: output)) ?? Data(),
                          errors: (try? String(contentsOf: errors, encoding: .utf8)) ?? "")
    }

    package static func locateBinaries() throws -> URL {
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
/// What one `secagg` run printed, and how it exited.
package struct CommandRun: Sendable {
    package var status: Int32
    package var output: Data
    package var errors: String

    package init(status: Int32, output: Data, errors: String) {
        self.status = status
        self.output = output
        self.errors = errors
    }

    /// Standard output as text.
    package var text: String { String(decoding: output, as: UTF8.self) }

    /// Standard output parsed as JSON.
    ///
    /// - Throws: `NotJSON`, with the status and both streams, when the output is not JSON (a run that failed).
    package func json() throws -> Any {
        do { return try JSONSerialization.jsonObject(with: output) } catch { throw NotJSON(run: self) }
    }

    /// The output of a run was not JSON; says what the run printed instead.
    package struct NotJSON: Error, CustomStringConvertible {
        package var run: CommandRun
        package var description: String { "secagg's output is not JSON: \(run.explanation)" }
    }

    /// The status and both streams, for an expectation's comment: a failed run says why.
    package var explanation: String { "exit status \(status); stdout: \(text); stderr: \(errors)" }
}

package struct BinariesMissing: Error, CustomStringConvertible {
    package var searched: [String]
    package var description: String { "secagg and secaggd not found (build them first); searched \(searched)" }
}

/// A running `secaggd`: its log (a file, and its lines as they come) and its exit.
package struct DaemonProcess: @unchecked Sendable {
    package let process: Process
    package let log: URL
    package let output: ProcessOutput
    package let exit: ProcessExit

    /// The exit status, or nil if it did not exit in time (it is then killed).
    package func waitForExit(within timeout: Duration) async -> Int32? {
        await exit.status(within: timeout, killing: true)
    }

    /// The first log line (written already or to come) containing `text`, or nil after `limit`.
    package func logLine(containing text: String, within limit: Duration = .seconds(10)) async -> String? {
        await output.lines.first(where: { $0.contains(text) }, within: limit)
    }

    /// Whether `count` log lines containing `text` have been written, or are within `limit`.
    package func logLines(containing text: String, count: Int, within limit: Duration = .seconds(30)) async -> Bool {
        await output.lines.count(count, where: { $0.contains(text) }, within: limit)
    }
}

package struct ClientProcess: @unchecked Sendable {
    package let process: Process
    package let outputFile: URL
    package let errorFile: URL
    package let exit: ProcessExit

    /// The exit status, or nil if it did not exit in time (it is then killed).
    package func waitForExit(within timeout: Duration) async -> Int32? {
        await exit.status(within: timeout, killing: true)
    }

    /// Standard output (the receipt).
    package func output() -> String {
        (try? String(contentsOf: outputFile, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
    }

    /// Standard output and standard error, for failure messages.
    package func transcript() -> String {
        let errors = (try? String(contentsOf: errorFile, encoding: .utf8)) ?? ""
        return output() + (errors.isEmpty ? "" : " | stderr: " + errors.trimmingCharacters(in: .whitespacesAndNewlines))
    }
}

/// A process's exit, awaitable: set up before the process runs (its termination handler), so no test polls
/// `isRunning`.
package final class ProcessExit: Sendable {
    private let statuses = Collected<Int32>()
    private let process: ProcessBox

    package init(_ process: Process) {
        self.process = ProcessBox(process: process)
        process.terminationHandler = { [statuses] finished in statuses.append(finished.terminationStatus) }
    }

    /// The exit status once the process has exited, or nil after `limit` (then, if `killing`, it is killed).
    package func status(within limit: Duration, killing: Bool = false) async -> Int32? {
        if let status = await statuses.first(where: { _ in true }, within: limit) { return status }
        if killing {
            process.process.interrupt()
            kill(process.process.processIdentifier, SIGKILL)
        }
        return nil
    }
}

/// A process handle shared with the termination handler's side (Process is not Sendable).
private struct ProcessBox: @unchecked Sendable {
    let process: Process
}

/// A child's standard output and error: written to a file as they come, and collected line by line so a test can
/// await a line instead of polling the file.
package final class ProcessOutput: Sendable {
    package let pipe: Pipe
    /// Every complete line so far; ``Collected/first(where:within:)`` awaits one.
    package let lines = Collected<String>()
    private let pending = NIOLockedValueBox<[UInt8]>([])
    private let file: FileHandleBox

    package init(file url: URL) throws {
        _ = FileManager.default.createFile(atPath: url.path, contents: nil)
        let handle = try FileHandle(forWritingTo: url)
        file = FileHandleBox(handle: handle)
        pipe = Pipe()
        pipe.fileHandleForReading.readabilityHandler = { [lines, pending, file] reader in
            let data = reader.availableData
            guard !data.isEmpty else {
                reader.readabilityHandler = nil
                return
            }
            file.handle.write(data)
            let complete: [String] = pending.withLockedValue { buffer in
                buffer += data
                var found: [String] = []
                while let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                    found.append(String(decoding: buffer[..<newline], as: UTF8.self))
                    buffer.removeSubrange(...newline)
                }
                return found
            }
            for line in complete { lines.append(line) }
        }
    }
}

private struct FileHandleBox: @unchecked Sendable {
    let handle: FileHandle
}
