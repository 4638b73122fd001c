import ArgumentParser
import Foundation
import Logging
import Metrics
import Prometheus
import SecAggCoordinator
import SecAggRoot
import SecAggWire
import ServiceLifecycle

/// `secagg-root`: the root of a sharded deployment (protocol/FEDERATION.md). Runs until SIGTERM or SIGINT.
///
/// Its own executable rather than a mode of `secaggd`: it has no client listener and holds the key every shard's admin
/// listener admits, so it is deployed, exposed and guarded differently; its configuration shares no section with a
/// coordinator's but the admin listener, store and metrics, whose code it reuses.
@main
struct RootDaemon: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "secagg-root",
        abstract: "The root of sharded secagg: places clients on shards, runs global rounds across them, combines their signed releases.",
        discussion: "ENVIRONMENT (any other SECAGG_ROOT_* variable is an error):\n"
            + RootConfiguration.environmentVariables.map {
                "  \($0.name.padding(toLength: 24, withPad: " ", startingAt: 0)) \($0.meaning)"
            }.joined(separator: "\n"),
        version: SecAggVersion.summary)

    @Option(name: .shortAndLong, help: "Configuration file (YAML); default: $SECAGG_ROOT_CONFIG.") var config: String?
    @Flag(name: .customLong("check-config"), help: "Validate the configuration and exit (0: valid, 2: problems).")
    var checkConfig = false
    @Flag(name: .customLong("skip-port-check"), help: "With --check-config: do not try to bind the ports.")
    var skipPortCheck = false
    @Option(name: .customLong("log-level"), help: "trace|debug|info|notice|warning|error|critical; default: $SECAGG_ROOT_LOG_LEVEL or info.")
    var logLevel: String?

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        let levelText = logLevel ?? environment["SECAGG_ROOT_LOG_LEVEL"] ?? "info"
        guard let level = Logger.Level(rawValue: levelText) else {
            throw ValidationError("the log level must be one of \(Logger.Level.allCases.map(\.rawValue).joined(separator: ", ")), not '\(levelText)'")
        }
        guard let file = config ?? environment["SECAGG_ROOT_CONFIG"] else {
            throw ValidationError("give the configuration file with --config FILE or SECAGG_ROOT_CONFIG")
        }
        umask(0o077)
        let root: RootConfiguration
        do {
            root = try RootConfiguration.load(from: file, environment: environment)
        } catch {
            for problem in error.problems { print("\(file): \(problem)") }
            throw ExitCode(2)
        }
        if checkConfig {
            var problems: [String] = []
            if !skipPortCheck {
                var ports = [("admin", root.admin.host, root.admin.port)]
                if root.metrics.enabled { ports.append(("metrics", root.metrics.host, root.metrics.port)) }
                for (key, host, port) in ports {
                    if let problem = await PortCheck.problem(host: host, port: port) { problems.append("\(key): \(problem)") }
                }
            }
            guard problems.isEmpty else {
                for problem in problems { FileHandle.standardError.write(Data("\(file): \(problem)\n".utf8)) }
                throw ExitCode(2)
            }
            print("\(file): OK — \(root.shards.count) shard(s), \(root.tasks.count) task(s) [\(root.tasks.map(\.configuration.name).joined(separator: ", "))]")
            print("  root key: \(root.identity.verifyingKey) (list it in every shard's admin.keys)")
            for shard in root.shards { print("  shard \(shard.name): admin \(shard.admin), clients \(shard.clients), key \(shard.key)") }
            print("  admin listener: \(root.admin.host):\(root.admin.port) for \(root.admin.keys.count) admin key(s)")
            print("  store: \(root.storePath ?? "in memory")")
            print("  global rounds: at least \(root.policy.minimumCohorts) cohort(s) and \(root.policy.minimumClients) client(s), "
                  + "deadline \(root.deadline)" + (root.every.map { ", every \($0)" } ?? ", on request"))
            print("  metrics: " + (root.metrics.enabled ? "http://\(root.metrics.host):\(root.metrics.port)/metrics" : "off"))
            return
        }
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "secagg-root")
        let registry = PrometheusCollectorRegistry()
        if root.metrics.enabled { MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry)) }
        let store: RootStore
        do {
            store = try root.storePath.map { try RootStore(path: $0) } ?? RootStore.inMemory()
        } catch {
            logger.critical("cannot open the store", metadata: ["error": "\(error)"])
            throw ExitCode(1)
        }
        let service = RootService(configuration: root, store: store, logger: logger)
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: service, successTerminationBehavior: .gracefullyShutdownGroup),
        ]
        if root.metrics.enabled {
            let endpoint = MetricsEndpoint(
                settings: root.metrics, logger: logger, render: { registry.emitToBuffer() }, ready: { service.isReady })
            services.append(.init(service: endpoint, successTerminationBehavior: .gracefullyShutdownGroup,
                                  failureTerminationBehavior: .gracefullyShutdownGroup))
        }
        let group = ServiceGroup(configuration: .init(
            services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}
