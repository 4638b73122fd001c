import ArgumentParser
import Logging
import SecAggCoordinator
import ServiceLifecycle
#if canImport(Glibc)
import Glibc
#endif

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
        Self.tuneAllocator()
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
            print("\(config): store \(settings.storePath ?? "in memory"); admin listener "
                  + (settings.admin.map { "on \($0.host):\($0.port) for \($0.keys.count) admin key(s)" } ?? "off (no admin section)"))
            return
        }
        let service = try CoordinatorService(settings: settings, logger: logger)
        let group = ServiceGroup(configuration: .init(
            services: [.init(service: service, successTerminationBehavior: .gracefullyShutdownGroup)],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger))
        try await group.run()
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
