import ArgumentParser
import Logging
import SecAggCoordinator
import ServiceLifecycle

/// `secaggd`: the coordinator daemon. Runs until SIGTERM or SIGINT, then shuts down cleanly (exit 0).
@main
struct SecAggDaemon: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "secaggd",
        abstract: "The secagg coordinator: accepts enrolled clients over Noise-secured TCP and runs aggregation rounds.")

    @Option(name: .shortAndLong, help: "Configuration file (YAML).") var config: String
    @Flag(name: .customLong("check-config"), help: "Validate the configuration and exit.") var checkConfig = false
    @Option(name: .customLong("log-level"), help: "trace|debug|info|notice|warning|error|critical") var logLevel: String = "info"

    func run() async throws {
        guard let level = Logger.Level(rawValue: logLevel) else {
            throw ValidationError("--log-level must be one of \(Logger.Level.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "secaggd")
        let settings: CoordinatorSettings
        do {
            settings = try ConfigurationFile.load(from: config)
        } catch let error as CoordinatorConfigurationError {
            for problem in error.problems { print("\(config): \(problem)") }
            throw ExitCode(2)
        }
        if checkConfig {
            print("\(config): OK — \(settings.tasks.count) task(s), \(settings.enrolled.count) enrolled client(s), "
                  + "listening on \(settings.host):\(settings.port), coordinator key \(settings.identity.verifyingKey)")
            return
        }
        let service = try CoordinatorService(settings: settings, logger: logger)
        let group = ServiceGroup(configuration: .init(
            services: [.init(service: service, successTerminationBehavior: .gracefullyShutdownGroup)],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger))
        try await group.run()
    }
}
