import Foundation
@testable import SecAggCoordinator
import SecAggCrypto
import SecAggIdentity
import SecAggTransport
import SecAggTesting
import Testing

/// The daemon's configuration: the file's operations sections, environment overrides with clear errors for bad
/// values, and every problem reported at once.
@Suite("Daemon configuration and environment overrides")
struct DaemonConfigurationTests {
    @Test("safe defaults: loopback, no metrics endpoint, no audit log unless configured")
    func defaults() throws {
        let (folder, text) = try TestFiles.daemonConfiguration()
        let configuration = try DaemonConfiguration.parse(text, relativeTo: folder, environment: [:])
        #expect(configuration.coordinator.host == "127.0.0.1")
        #expect(configuration.metrics == MetricsEndpointSettings(enabled: false, host: "127.0.0.1", port: 9461))
        #expect(configuration.auditPath == nil)
        #expect(configuration.appliedOverrides.isEmpty)
    }

    @Test("the audit and metrics sections are read; relative paths resolve against the file's folder")
    func sections() throws {
        let (folder, text) = try TestFiles.daemonConfiguration(extra: """
            audit:
              path: audit.log
            metrics:
              enabled: true
              port: 9999
            """)
        let configuration = try DaemonConfiguration.parse(text, relativeTo: folder, environment: [:])
        #expect(configuration.auditPath == folder.appendingPathComponent("audit.log").path)
        #expect(configuration.metrics == MetricsEndpointSettings(enabled: true, host: "127.0.0.1", port: 9999))
    }

    @Test("no tasks in the file: refused without an admin listener, accepted with one (tasks come from it, or a root)")
    func tasksMayComeFromTheAdminListener() throws {
        let (folder, full) = try TestFiles.daemonConfiguration()
        let text = String(full[..<full.range(of: "tasks:")!.lowerBound])
        #expect(throws: CoordinatorConfigurationError.self) {
            try DaemonConfiguration.parse(text, relativeTo: folder, environment: [:])
        }
        let admin = "admin: {port: 0, keys: [\"\(ServiceHarness.honest[1].verifyingKey)\"]}\n"
        let configuration = try DaemonConfiguration.parse(text + admin, relativeTo: folder, environment: [:])
        #expect(configuration.coordinator.tasks.isEmpty)
        #expect(throws: Never.self) { try CoordinatorService(settings: configuration.coordinator, logger: .init(label: "t")) }
    }

    @Test("environment variables override the file, creating sections that are missing")
    func overrides() throws {
        let (folder, text) = try TestFiles.daemonConfiguration(extra: "listen:\n  port: 7000")
        let configuration = try DaemonConfiguration.parse(text, relativeTo: folder, environment: [
            "SECAGGD_LISTEN_PORT": "7100", "SECAGGD_LISTEN_HOST": "0.0.0.0", "SECAGGD_METRICS_ENABLED": "yes",
            "SECAGGD_METRICS_HOST": "0.0.0.0", "SECAGGD_METRICS_PORT": "9100",
            "SECAGGD_AUDIT_PATH": folder.appendingPathComponent("audit.log").path,
            "SECAGGD_MAX_CONNECTIONS": "10", "SECAGGD_IDLE_TIMEOUT_SECONDS": "2.5", "HOME": "/root",
            "SECAGGD_STORE_PATH": folder.appendingPathComponent("elsewhere.sqlite").path,
        ])
        #expect(configuration.coordinator.port == 7100)
        #expect(configuration.coordinator.host == "0.0.0.0")
        #expect(configuration.coordinator.maximumConnections == 10)
        #expect(configuration.coordinator.limits.idleTimeout == .milliseconds(2500))
        #expect(configuration.metrics == MetricsEndpointSettings(enabled: true, host: "0.0.0.0", port: 9100))
        #expect(configuration.auditPath == folder.appendingPathComponent("audit.log").path)
        #expect(configuration.appliedOverrides.contains("SECAGGD_LISTEN_PORT -> listen.port"))
        #expect(configuration.appliedOverrides.contains("SECAGGD_STORE_PATH -> store.path"))
        #expect(configuration.coordinator.storePath == folder.appendingPathComponent("elsewhere.sqlite").path)
    }

    @Test("bad values, unknown variables and conflicts are all reported, each naming what to fix")
    func problems() throws {
        let (folder, text) = try TestFiles.daemonConfiguration(extra: "metrics:\n  enabled: true\n  port: 7461")
        let error = try #require(throws: CoordinatorConfigurationError.self) {
            try DaemonConfiguration.parse(text, relativeTo: folder, environment: [
                "SECAGGD_LISTEN_PORT": "http", "SECAGGD_METRICS_ENABLED": "maybe", "SECAGGD_LISTEN_PROT": "1",
                "SECAGGD_MAX_CONNECTIONS": "0", "SECAGGD_AUDIT_PATH": "/nonexistent-folder/audit.log",
            ])
        }
        let all = error.problems.joined(separator: "\n")
        #expect(all.contains("SECAGGD_LISTEN_PORT=\"http\" is invalid: a port is a whole number from 0 to 65535"))
        #expect(all.contains("SECAGGD_METRICS_ENABLED=\"maybe\" is invalid: expected true or false"))
        #expect(all.contains("SECAGGD_LISTEN_PROT is not a secaggd variable"))
        #expect(all.contains("SECAGGD_MAX_CONNECTIONS=\"0\" is invalid"))
        #expect(all.contains("audit.path: the folder /nonexistent-folder does not exist"))

        let clash = try #require(throws: CoordinatorConfigurationError.self) {
            try DaemonConfiguration.parse(text, relativeTo: folder, environment: [:])
        }
        #expect(clash.problems.contains { $0.contains("metrics.port 7461 is also listen.port") })

        let both = try #require(throws: CoordinatorConfigurationError.self) {
            try DaemonConfiguration.parse(text.replacingOccurrences(of: "max_input: 10", with: "max_input: -1"),
                                          relativeTo: folder, environment: ["SECAGGD_METRICS_PORT": "70000"])
        }
        #expect(both.problems.contains { $0.contains("SECAGGD_METRICS_PORT") }, "override problems come with file problems")
        #expect(both.problems.count >= 2)
    }

    // Issue 12: a misspelt key was silently ignored at every level (`privcy:` gave a task without noise and
    // --check-config said OK). Every unknown key is now a problem with its path, its line and the likely key meant.
    @Test("an unknown or misspelt key at any level is an error naming its line and the key meant",
          arguments: [
            ("privcy: {clip: 1, budget_epsilon: 3}", "tasks[0].privcy", "privacy"),
            ("gather_secnds: 3", "tasks[0].gather_secnds", "gather_seconds"),
            ("timeouts: {maskd: 30}", "tasks[0].timeouts.maskd", "masked"),
            ("privacy: {clip: 1, budget_epsilon: 3, epsilon_per_rnd: 1}", "tasks[0].privacy.epsilon_per_rnd", "epsilon_per_round"),
          ])
    func unknownTaskKeys(line: String, path: String, meant: String) throws {
        let (folder, text) = try TestFiles.daemonConfiguration(extra: "    " + line)
        let error = try #require(throws: CoordinatorConfigurationError.self) {
            try DaemonConfiguration.parse(text, relativeTo: folder, environment: [:])
        }
        #expect(error.problems == ["unknown key '\(path)' (line 10); did you mean '\(meant)'?"])
    }

    @Test("unknown keys in every section are all reported at once",
          arguments: [["result_directory: r"], ["listen: {prot: 1}"], ["metrics: {enabeld: true}"], ["store: {pth: x}"],
                      ["limits: {max_conections: 3}"], ["audit: {paht: a.log}"], ["admin: {keys: [], hots: x}"], ["telemetry: {}"]])
    func unknownSectionKeys(lines: [String]) throws {
        let (folder, text) = try TestFiles.daemonConfiguration(extra: lines.joined(separator: "\n"))
        let error = try #require(throws: CoordinatorConfigurationError.self) {
            try DaemonConfiguration.parse(text, relativeTo: folder, environment: [:])
        }
        #expect(error.problems.count == 1)
        #expect(error.problems.allSatisfy { $0.hasPrefix("unknown key '") && $0.contains("(line 10)") }, "\(error.problems)")
        // The coordinator's own parser (used by embedders and the fuzzer) refuses them too.
        #expect(throws: CoordinatorConfigurationError.self) { try ConfigurationFile.parse(text, relativeTo: folder) }
    }

    @Test("the documented example configuration has no unknown key")
    func exampleIsKnown() throws {
        let example = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../deploy/secaggd.example.yaml").standardizedFileURL
        let text = try String(contentsOf: example, encoding: .utf8)
        let (folder, _) = try TestFiles.daemonConfiguration()
        do {
            _ = try DaemonConfiguration.parse(text, relativeTo: folder, environment: [:])
        } catch {
            // Its files (identity, enrollment list) are not in the test folder; its keys must all be known.
            #expect(!error.problems.contains { $0.contains("unknown key") }, "\(error.problems)")
        }
    }

    @Test("an admin task definition with an unknown key is refused")
    func unknownKeyInAdminTask() throws {
        let error = try #require(throws: CoordinatorConfigurationError.self) {
            try ConfigurationFile.parseTask("""
                name: t
                dimension: 4
                max_input: 10
                min_clients: 3
                max_clients: 3
                privcy: {clip: 1, budget_epsilon: 3}
                """)
        }
        #expect(error.problems == ["unknown key 'privcy' (line 6); did you mean 'privacy'?"])
    }

    // Issue 12: --check-config accepted an impossible threshold (every round then aborted with parametersRejected,
    // and the daemon log said nothing), duplicate task names, and a sum that noise could wrap; and it named keys by
    // their internal names. Each is now refused up front, all at once, in the user's key names.
    @Test("tasks whose every round would be refused, and duplicate names, are reported at once in the file's key names")
    func impossibleTasks() throws {
        let (folder, text) = try TestFiles.daemonConfiguration(extra: """
              - name: t
                dimension: 4
                max_input: 10
                graph: complete
                min_clients: 5
                max_clients: 5
                threshold: 9
              - name: dp
                dimension: 4
                max_input: 100000
                bits: 20
                min_clients: 3
                max_clients: 10
                privacy: {noise: central, sigma: 40000, clip: 10, budget_epsilon: 100}
              - name: few
                dimension: 4
                max_input: 10
                min_clients: 2
                max_clients: 1
            """)
        let error = try #require(throws: CoordinatorConfigurationError.self) {
            try DaemonConfiguration.parse(text, relativeTo: folder, environment: [:])
        }
        let problems = error.problems.joined(separator: "\n")
        #expect(problems.contains("the name 't' is used by tasks[0] and tasks[1]"), "\(problems)")
        #expect(problems.contains("a round of 5 clients cannot be planned: threshold 9"), "\(problems)")
        #expect(problems.contains("task 'dp': clients would refuse a round of 3"), "\(problems)")
        #expect(problems.contains("task 'few': min_clients must be at least 3"), "\(problems)")
        #expect(problems.contains("task 'few': max_clients must be at least min_clients"), "\(problems)")
        #expect(!problems.contains("minimum_clients") && !problems.contains("maximum_"), "\(problems)")
    }

    // Issue 12: only the first type error was reported, as "wrong type at 'tasks.[0].dimension': Expected to decode
    // Int but found Scalar instead", without a line. Every one is now listed, with its line, what was expected and
    // what was found, and missing keys name the section they are missing from.
    @Test("every wrong type and missing key is reported at once, with its line, expectation and value")
    func typeProblemsAtOnce() throws {
        let folder = try TestFiles.folder()
        _ = try IdentityFile.create(at: folder.appendingPathComponent("coordinator.key").path)
        let text = """
            identity: coordinator.key
            listen: {host: 127.0.0.1, port: seven}
            limits: 5
            tasks:
              - name: t
                dimension: abc
                min_clients: three
                max_clients: 3
                privacy: {noise: central, epsilon_per_round: 1, clip: 10, budget_epsilon: 5, delta: tiny}
            """
        let error = try #require(throws: CoordinatorConfigurationError.self) {
            try DaemonConfiguration.parse(text, relativeTo: folder, environment: [:])
        }
        let problems = error.problems
        #expect(problems.contains("'listen.port' (line 2): expected a whole number, found 'seven'"), "\(problems)")
        #expect(problems.contains("'limits' (line 3): expected a section of keys, found '5'"), "\(problems)")
        #expect(problems.contains("'tasks[0].dimension' (line 6): expected a whole number, found 'abc'"), "\(problems)")
        #expect(problems.contains("'tasks[0].min_clients' (line 7): expected a whole number, found 'three'"), "\(problems)")
        #expect(problems.contains("'tasks[0].privacy.delta' (line 9): expected a number, found 'tiny'"), "\(problems)")
        #expect(problems.contains { $0.hasPrefix("missing key 'tasks[0].max_input' (in the section at line 5") }, "\(problems)")
        #expect(problems.count == 6, "\(problems)")
    }

    @Test("an admin task definition's type problems are all listed")
    func adminTaskTypeProblems() throws {
        let error = try #require(throws: CoordinatorConfigurationError.self) {
            try ConfigurationFile.parseTask("name: t\ndimension: many\nmax_input: 10\nmin_clients: 3\nmax_clients: lots\n")
        }
        #expect(error.problems == [
            "'dimension' (line 2): expected a whole number, found 'many'",
            "'max_clients' (line 5): expected a whole number, found 'lots'",
        ])
    }

    @Test("an admin task whose rounds could not be planned is refused")
    func impossibleAdminTask() throws {
        let error = try #require(throws: CoordinatorConfigurationError.self) {
            try ConfigurationFile.parseTask("""
                name: t
                dimension: 4
                max_input: 10
                graph: harary
                degree: 2
                threshold: 3
                min_clients: 6
                max_clients: 8
                """)
        }
        #expect(error.problems.contains { $0.contains("a round of 6 clients cannot be planned") }, "\(error.problems)")
    }

    // Issue 12: an empty enrollment file was refused even with clients in the store, so the shipped Kubernetes
    // ConfigMap (whose list is only comments) crash-looped. Enrollment may live only in the store.
    @Test("a configuration without enrolled keys is accepted: enrollment may live only in the store")
    func enrollmentOnlyInStore() throws {
        let (folder, text) = try TestFiles.daemonConfiguration()
        let emptyFile = folder.appendingPathComponent("enrolled.txt")
        try "# one client public key per line\n".write(to: emptyFile, atomically: true, encoding: .utf8)
        for enrollment in ["enrollment: {file: enrolled.txt}", "enrollment: {keys: []}", ""] {
            let withoutKeys = text.replacingOccurrences(
                of: "enrollment:\n  keys: [\"\(ServiceHarness.honest[0].verifyingKey)\"]", with: enrollment)
            #expect(withoutKeys != text)
            let configuration = try DaemonConfiguration.parse(withoutKeys, relativeTo: folder, environment: [:])
            #expect(configuration.coordinator.enrolled.isEmpty)
        }
    }

    @Test("a task's summary names its privacy settings")
    func summary() throws {
        let task = TaskConfiguration(
            name: "dp", dimension: 4, maximumInput: 10, graph: .complete, minimumClients: 3, maximumClients: 5,
            privacy: TaskPrivacy(placement: .distributed, epsilonPerRound: 1, delta: 1e-6, l2Sensitivity: 10, budgetEpsilon: 8))
        #expect(task.problems().isEmpty, "\(task.problems())")
        #expect(task.summary.contains("privacy: distributed noise, epsilon 1.0 per round at delta 1e-06, clip 10.0, budget epsilon 8.0"))
        let exact = TaskConfiguration(name: "x", dimension: 4, maximumInput: 10, minimumClients: 3, maximumClients: 5)
        #expect(exact.summary.hasSuffix("privacy: none (exact sums are released)"))
    }

    // Issue 13, finding 8: the key check ignored a 0777 folder, and the store, results and ledger export were
    // world-readable under umask 022. A state folder that group or others can write is refused, naming the key.
    @Test("a state folder that group or others can write is refused", arguments: [0o777, 0o775, 0o1777])
    func writableStateFolder(mode: Int) throws {
        let (folder, text) = try TestFiles.daemonConfiguration(extra: "results_directory: shared\naudit: {path: shared/audit.log}")
        let shared = folder.appendingPathComponent("shared")
        try FileManager.default.createDirectory(at: shared, withIntermediateDirectories: true)
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: shared.path)
        let error = try #require(throws: CoordinatorConfigurationError.self) {
            try DaemonConfiguration.parse(text, relativeTo: folder, environment: [:])
        }
        #expect(error.problems.contains { $0.hasPrefix("results_directory: the folder \(shared.path) is writable by") })
        #expect(error.problems.contains { $0.hasPrefix("audit.path: the folder \(shared.path) is writable by") })
        try FileManager.default.setAttributes([.posixPermissions: 0o700], ofItemAtPath: shared.path)
        _ = try DaemonConfiguration.parse(text, relativeTo: folder, environment: [:])
    }
}
