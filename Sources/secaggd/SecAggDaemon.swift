import ArgumentParser
import Foundation
import Logging
import Metrics
import Prometheus
import SecAggCoordinator
import SecAggWire
import ServiceLifecycle
#if canImport(Glibc)
import Glibc
#endif

/// `secaggd`: the coordinator daemon. Runs until SIGTERM or SIGINT, then shuts down cleanly (exit 0).
@main
struct SecAggDaemon: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "secaggd",
        abstract: "The secagg coordinator: accepts enrolled clients over Noise-secured TCP and runs aggregation rounds.",
        discussion: environmentHelp,
        version: SecAggVersion.summary)

    @Option(name: .shortAndLong, help: "Configuration file (YAML); default: $SECAGGD_CONFIG.") var config: String?
    @Flag(name: .customLong("check-config"), help: "Validate the configuration (with environment overrides applied) and exit.")
    var checkConfig = false
    @Flag(name: .customLong("skip-port-check"), help: "With --check-config: do not try to bind the ports (when validating on a machine other than the one that runs the daemon).")
    var skipPortCheck = false
    @Option(name: .customLong("accept-store-divergence"), help: ArgumentHelp(
        "Start although the store disagrees with the audit log (a restored backup, a lost WAL), accepting the store as it is; REASON is recorded in the audit log.",
        valueName: "REASON"))
    var acceptStoreDivergence: String?
    @Option(name: .customLong("log-level"), help: "trace|debug|info|notice|warning|error|critical; default: $SECAGGD_LOG_LEVEL or info.")
    var logLevel: String?

    /// The environment variables, listed in `--help`.
    static var environmentHelp: String {
        // Names are never cut: a column as wide as the longest (a cut name would read as another, unknown variable).
        let width = (EnvironmentOverrides.variables.map(\.name) + EnvironmentOverrides.commandVariables.map(\.name)).map(\.count).max() ?? 0
        func column(_ name: String) -> String { name.padding(toLength: width + 1, withPad: " ", startingAt: 0) }
        let overrides = EnvironmentOverrides.variables.map { "  \(column($0.name)) overrides \($0.keyPath)" }
        let own = EnvironmentOverrides.commandVariables.map { "  \(column($0.name)) \($0.meaning)" }
        return "ENVIRONMENT (overrides the configuration file; any other SECAGGD_* variable is an error):\n"
            + (own + overrides).joined(separator: "\n")
    }

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        let levelText = logLevel ?? environment["SECAGGD_LOG_LEVEL"] ?? "info"
        guard let level = Logger.Level(rawValue: levelText) else {
            throw ValidationError("the log level must be one of \(Logger.Level.allCases.map(\.rawValue).joined(separator: ", ")), not '\(levelText)'")
        }
        guard let config = config ?? environment["SECAGGD_CONFIG"] else {
            throw ValidationError("give the configuration file with --config FILE or SECAGGD_CONFIG")
        }
        Self.tuneAllocator()
        // Everything the daemon creates (store, lock, results, ledger export, audit log) is its own: files 0600 and
        // folders 0700 whatever umask it inherited (under 022 the results and the ledger were world-readable).
        umask(0o077)
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "secaggd")
        let daemon: DaemonConfiguration
        do {
            daemon = try DaemonConfiguration.load(from: config, environment: environment)
        } catch {
            for problem in error.problems { print("\(config): \(problem)") }
            throw ExitCode(2)
        }
        var settings = daemon.coordinator
        settings.acceptStoreDivergence = acceptStoreDivergence
        if checkConfig {
            guard await Self.describe(daemon, file: config, checkPorts: !skipPortCheck) else { throw ExitCode(2) }
            return
        }

        // The one place the metrics backend is chosen; the library only uses the swift-metrics API.
        let registry = PrometheusCollectorRegistry()
        if daemon.metrics.enabled {
            var factory = PrometheusMetricsFactory(registry: registry)
            factory.durationHistogramBuckets["secagg_phase_duration_seconds"] = Self.durationBuckets
            factory.durationHistogramBuckets["secagg_round_duration_seconds"] = Self.durationBuckets
            MetricsSystem.bootstrap(factory)
        }
        let metrics = CoordinatorMetrics()
        settings.observers.append(metrics)
        if let path = daemon.auditPath {
            let audit: AuditLog
            do {
                audit = try AuditLog(path: path, logger: logger)
            } catch {
                logger.critical("cannot open the audit log", metadata: ["error": "\(error)"])
                throw ExitCode(1)
            }
            let head = audit.head
            logger.notice("audit log continues", metadata: ["path": "\(path)", "seq": "\(head.sequence)", "head": "\(head.hash)"])
            try audit.append(kind: "log_opened", fields: [
                "coordinator_key": .string("\(settings.identity.verifyingKey)"),
                "tasks": .array(settings.tasks.map { .string($0.name) }),
                // Keys listed in the configuration; the store may hold more (`secagg admin enroll`), and each newly
                // enrolled one gets its own client_enrolled record.
                "configured_clients": .integer(Int64(settings.enrolled.count)),
            ])
            settings.observers.insert(audit, at: 0)
        } else {
            logger.warning("no audit log is configured (audit.path): security-relevant events are only logged")
        }

        // The service reports each task's ledger (ledgerLoaded) as it starts: the budget gauges exist from then on.
        let service = try CoordinatorService(settings: settings, logger: logger)
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: service, successTerminationBehavior: .gracefullyShutdownGroup),
        ]
        if daemon.metrics.enabled {
            let endpoint = MetricsEndpoint(
                settings: daemon.metrics, logger: logger, render: { registry.emitToBuffer() },
                ready: { service.isListening })
            services.append(.init(service: endpoint, successTerminationBehavior: .gracefullyShutdownGroup,
                                  failureTerminationBehavior: .gracefullyShutdownGroup))
        }
        // SIGHUP does not reload: the store, the audit chain and the tasks' ledgers are bound to the configuration
        // the daemon started with. Say so instead of ignoring it silently (or dying of it, the signal's default).
        signal(SIGHUP, SIG_IGN)
        let hangup = DispatchSource.makeSignalSource(signal: SIGHUP, queue: .global())
        hangup.setEventHandler {
            logger.notice(
                "SIGHUP ignored: secaggd does not reload its configuration; restart it to apply changes (enrollment and tasks change at once through `secagg admin`)")
        }
        hangup.resume()
        defer { hangup.cancel() }
        let group = ServiceGroup(configuration: .init(
            services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }

    /// Histogram buckets of phase and round durations (phases take milliseconds to minutes).
    static let durationBuckets: [Duration] = [
        .milliseconds(10), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1),
        .milliseconds(2500), .seconds(5), .seconds(10), .seconds(30), .seconds(60), .seconds(120), .seconds(300),
    ]

    /// `--check-config`'s report: what the daemon would do with this file and environment. False if the daemon
    /// would refuse to start (an audit log whose chain is broken).
    static func describe(_ daemon: DaemonConfiguration, file: String, checkPorts: Bool) async -> Bool {
        var startable = true
        let settings = daemon.coordinator
        // The ports the daemon would listen on must be free now (another secaggd on them, or a port below 1024
        // without the privilege, would stop the start).
        var ports = [("listen", settings.host, settings.port)]
        if let admin = settings.admin { ports.append(("admin", admin.host, admin.port)) }
        if daemon.metrics.enabled { ports.append(("metrics", daemon.metrics.host, daemon.metrics.port)) }
        var problems: [String] = []
        for (key, host, port) in ports where checkPorts {
            if let problem = await PortCheck.problem(host: host, port: port) {
                problems.append("\(key): \(problem) (is another secaggd running, or the port privileged?)")
            }
        }
        guard problems.isEmpty else {
            for problem in problems { FileHandle.standardError.write(Data("\(file): \(problem)\n".utf8)) }
            return false
        }
        print("\(file): OK — \(settings.tasks.count) task(s) [\(settings.tasks.map(\.name).joined(separator: ", "))], "
              + "\(settings.enrolled.count) client key(s) in the configuration"
              + (settings.enrolled.isEmpty ? " (clients must be in the store or enrolled with `secagg admin enroll`)" : ""))
        for task in settings.tasks { print("  task \(task.summary)") }
        print("  listen: \(settings.host):\(settings.port)")
        print("  coordinator key: \(settings.identity.verifyingKey)")
        print("  results: \(settings.resultsDirectory?.path ?? "(not written)")")
        print("  store: \(settings.storePath ?? "in memory")")
        print("  admin listener: "
              + (settings.admin.map { "\($0.host):\($0.port) for \($0.keys.count) admin key(s)" } ?? "off (no admin section)"))
        if let path = daemon.auditPath {
            if let contents = FileManager.default.contents(atPath: path) {
                let verification = AuditChain.verify(Array(contents))
                let state: String
                if !verification.problems.isEmpty {
                    state = "its chain is broken: secaggd will not start; run secagg audit verify \(path)"
                    startable = false
                } else if verification.tornTailBytes != nil {
                    state = "intact, ends in an unfinished record that secaggd will move aside"
                } else {
                    state = "intact"
                }
                print("  audit log: \(path) (\(verification.records) record(s), \(state))")
            } else {
                print("  audit log: \(path) (will be created)")
            }
        } else {
            print("  audit log: none (set audit.path to keep a tamper-evident record)")
        }
        print("  metrics: " + (daemon.metrics.enabled ? "http://\(daemon.metrics.host):\(daemon.metrics.port)/metrics" : "off"))
        for applied in daemon.appliedOverrides { print("  environment: \(applied)") }
        return startable
    }

    /// glibc malloc tuning for a server holding many connections (no effect elsewhere). By default glibc raises its
    /// mmap threshold to the size of each large block freed (up to 32 MiB), after which the coordinator's
    /// 100 KB–1 MB messages (uploads, broadcasts) come from the heap and leave it fragmented; and every thread
    /// (event loops, the concurrency pool) gets its own arena, whose free space the others cannot reuse. A fixed
    /// 128 KiB threshold returns large blocks to the system when freed, and two arenas bound the duplication;
    /// together they cut the coordinator's peak RSS by about 10–20 MiB in Benchmarks/tcp-round.sh.
    static func tuneAllocator() {
        #if canImport(Glibc)
        // mallopt is declared in <malloc.h>, which the Glibc module does not export; look it up instead.
        typealias Mallopt = @convention(c) (Int32, Int32) -> Int32
        guard let symbol = dlsym(dlopen(nil, RTLD_NOW), "mallopt") else { return }
        let mallopt = unsafeBitCast(symbol, to: Mallopt.self)
        let mmapThreshold: Int32 = -3, arenaMax: Int32 = -8  // M_MMAP_THRESHOLD, M_ARENA_MAX
        _ = mallopt(mmapThreshold, 128 * 1024)
        _ = mallopt(arenaMax, 2)
        #endif
    }
}
