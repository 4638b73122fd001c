import Foundation
import SecAggCoordinator
import SecAggCrypto
import SecAggFederation
import SecAggIdentity
import SecAggYAMLSchema
import Yams

/// Everything `secagg-root` reads from its configuration file (deploy/secagg-root.example.yaml): its identity, its
/// admin listener, its store, the shards with their pinned keys and endpoints, the global-round policy, and the
/// task definitions it pushes to every shard. Unknown keys are errors, never ignored settings.
public struct RootConfiguration: Sendable {
    /// One shard as the root knows it.
    public struct Shard: Sendable, Hashable {
        /// The stable name placement hashes (FEDERATION.md §5); 1...63 of a–z, 0–9 and '-'.
        public var name: String
        public var adminHost: String
        public var adminPort: Int
        /// The shard's identity key, pinned for its admin sessions and its signed releases.
        public var key: Ed25519.VerifyingKey
        /// HOST:PORT its clients connect to, told to each client enrolled there.
        public var clients: String

        public init(name: String, adminHost: String, adminPort: Int, key: Ed25519.VerifyingKey, clients: String) {
            self.name = name
            self.adminHost = adminHost
            self.adminPort = adminPort
            self.key = key
            self.clients = clients
        }

        /// `HOST:PORT` of the admin listener.
        public var admin: String { adminHost.contains(":") ? "[\(adminHost)]:\(adminPort)" : "\(adminHost):\(adminPort)" }
    }

    /// A task as defined once at the root: the definition text pushed to the shards, and what it parses to.
    public struct Task: Sendable {
        public var definition: String
        public var configuration: TaskConfiguration

        /// Parses a definition exactly as a shard's `createTask` does.
        ///
        /// - Throws: ``CoordinatorConfigurationError`` listing every problem.
        /// - Throws: ``CoordinatorConfigurationError`` listing every problem, and a task that would start rounds
        ///   on its own: a shard runs a root's task only for global rounds (`start: on_request`), or a full queue
        ///   would start a round no global round asked for and use its clients up.
        public init(definition: String) throws {
            self.definition = definition
            configuration = try ConfigurationFile.task(definition: definition)
            guard configuration.startsOnRequest else {
                throw CoordinatorConfigurationError(problems: [
                    "task '\(configuration.name)': a root's task starts its shards' rounds only for global rounds: add `start: on_request`",
                ])
            }
        }
    }

    public var identity: Ed25519.SigningKey
    public var admin: AdminSettings
    /// The SQLite store, or nil for one in memory (tests).
    public var storePath: String?
    public var metrics: MetricsEndpointSettings
    public var shards: [Shard]
    public var policy: GlobalRoundPolicy
    /// From the start requests, how long the shards have to deliver releases.
    public var deadline: Duration
    /// One admin exchange with a shard.
    public var adminTimeout: Duration
    /// Start a global round of every active task this often (nil: only on request).
    public var every: Duration?
    public var tasks: [Task]

    public init(
        identity: Ed25519.SigningKey, admin: AdminSettings, storePath: String?, metrics: MetricsEndpointSettings = .init(),
        shards: [Shard], policy: GlobalRoundPolicy, deadline: Duration, adminTimeout: Duration = .seconds(10),
        every: Duration? = nil, tasks: [Task] = []
    ) {
        self.identity = identity
        self.admin = admin
        self.storePath = storePath
        self.metrics = metrics
        self.shards = shards
        self.policy = policy
        self.deadline = deadline
        self.adminTimeout = adminTimeout
        self.every = every
        self.tasks = tasks
    }

    /// The file's shape (keys decode strictly; `tasks` are checked as task definitions).
    struct Document: Decodable {
        enum CodingKeys: String, CodingKey, CaseIterable { case identity, admin, store, metrics, shards, global, tasks }
        struct Admin: Decodable {
            enum CodingKeys: String, CodingKey, CaseIterable { case host, port, keys }
            var host: String?
            var port: Int?
            var keys: [String]?
        }
        struct Store: Decodable {
            enum CodingKeys: String, CodingKey, CaseIterable { case path }
            var path: String?
        }
        struct Metrics: Decodable {
            enum CodingKeys: String, CodingKey, CaseIterable { case enabled, host, port }
            var enabled: Bool?
            var host: String?
            var port: Int?
        }
        struct Shard: Decodable {
            enum CodingKeys: String, CodingKey, CaseIterable { case name, admin, key, clients }
            var name: String
            var admin: String
            var key: String
            var clients: String
        }
        struct Global: Decodable {
            enum CodingKeys: String, CodingKey, CaseIterable {
                case minCohorts = "min_cohorts", minClients = "min_clients", deadlineSeconds = "deadline_seconds"
                case adminTimeoutSeconds = "admin_timeout_seconds", everySeconds = "every_seconds"
            }
            var minCohorts: Int?
            var minClients: Int?
            var deadlineSeconds: Double?
            var adminTimeoutSeconds: Double?
            var everySeconds: Double?
        }
        var identity: String
        var admin: Admin
        var store: Store?
        var metrics: Metrics?
        var shards: [Shard]
        var global: Global?

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            identity = try container.decode(String.self, forKey: .identity)
            admin = try container.decode(Admin.self, forKey: .admin)
            store = try container.decodeIfPresent(Store.self, forKey: .store)
            metrics = try container.decodeIfPresent(Metrics.self, forKey: .metrics)
            shards = try container.decode([Shard].self, forKey: .shards)
            global = try container.decodeIfPresent(Global.self, forKey: .global)
            // `tasks` is read from the YAML nodes (each re-serialized as the definition text the shards receive).
        }
    }

    /// The keys the file may use.
    static let schema = YAMLKeySchema.keys(Document.CodingKeys.self, nested: [
        "admin": .keys(Document.Admin.CodingKeys.self),
        "store": .keys(Document.Store.CodingKeys.self),
        "metrics": .keys(Document.Metrics.CodingKeys.self),
        "shards": .list(.keys(Document.Shard.CodingKeys.self)),
        "global": .keys(Document.Global.CodingKeys.self),
        "tasks": .list(YAMLKeySchema.task),
    ])

    /// Environment variables the command reads itself; any other `SECAGG_ROOT_*` variable is an error.
    public static let environmentVariables: [(name: String, meaning: String)] = [
        ("SECAGG_ROOT_CONFIG", "the configuration file, when --config is not given"),
        ("SECAGG_ROOT_LOG_LEVEL", "the log level, when --log-level is not given"),
    ]

    /// Reads and validates the file at `path`; relative paths resolve against its folder.
    ///
    /// - Throws: ``CoordinatorConfigurationError`` listing every problem (unknown keys or environment variables,
    ///   wrong types, an unreadable identity, invalid shards or tasks).
    public static func load(from path: String, environment: [String: String] = [:]) throws(CoordinatorConfigurationError) -> RootConfiguration {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw CoordinatorConfigurationError(problems: ["cannot read the configuration file \(path)"])
        }
        return try parse(text, relativeTo: URL(fileURLWithPath: path).deletingLastPathComponent(), environment: environment)
    }

    /// Parses configuration text; relative paths resolve against `folder`.
    ///
    /// - Throws: ``CoordinatorConfigurationError``.
    public static func parse(
        _ text: String, relativeTo folder: URL, environment: [String: String] = [:]
    ) throws(CoordinatorConfigurationError) -> RootConfiguration {
        var problems: [String] = []
        let known = Set(environmentVariables.map(\.name))
        for name in environment.keys.sorted() where name.hasPrefix("SECAGG_ROOT_") && !known.contains(name) {
            problems.append("the environment variable \(name) is not one secagg-root reads (\(known.sorted().joined(separator: ", ")))")
        }
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch {
            throw CoordinatorConfigurationError(problems: problems + ["not valid YAML: \(error)"])
        }
        guard let root else { throw CoordinatorConfigurationError(problems: problems + ["the configuration is empty"]) }
        let unknown = schema.unknownKeys(in: root)
        guard unknown.isEmpty else { throw CoordinatorConfigurationError(problems: problems + unknown) }
        let document = try ConfigurationDecoding.decode(Document.self, from: root)
        func resolve(_ file: String) -> String { file.hasPrefix("/") ? file : folder.appendingPathComponent(file).path }

        var identity: Ed25519.SigningKey?
        do {
            identity = try IdentityFile.load(from: resolve(document.identity))
        } catch {
            problems.append("identity: \(error)")
        }
        let admin = AdminSettings.validated(
            host: document.admin.host, port: document.admin.port, keys: document.admin.keys, defaultPort: 7463,
            problems: &problems)
        var metrics = MetricsEndpointSettings(port: 9463)
        if let section = document.metrics {
            metrics.enabled = section.enabled ?? false
            if let host = section.host { if host.isEmpty { problems.append("metrics.host must not be empty") } else { metrics.host = host } }
            if let port = section.port {
                if (0...65535).contains(port) { metrics.port = port } else { problems.append("metrics.port must be 0...65535, not \(port)") }
            }
            if metrics.enabled, metrics.port != 0, metrics.port == admin.port {
                problems.append("metrics.port \(metrics.port) is also admin.port: give each its own port")
            }
        }

        var shards: [Shard] = []
        var names: Set<String> = [], keys: Set<Ed25519.VerifyingKey> = []
        if document.shards.isEmpty { problems.append("shards: list at least one shard") }
        for (position, entry) in document.shards.enumerated() {
            let prefix = "shards[\(position)]"
            if !Self.isValidShardName(entry.name) {
                problems.append("\(prefix).name '\(entry.name)': 1...63 characters of a-z, 0-9 and '-', starting with a letter or digit")
            }
            if !names.insert(entry.name).inserted { problems.append("\(prefix).name '\(entry.name)' is listed twice") }
            let endpoint = Self.endpoint(entry.admin)
            if endpoint == nil { problems.append("\(prefix).admin must be HOST:PORT, not '\(entry.admin)'") }
            if Self.endpoint(entry.clients) == nil { problems.append("\(prefix).clients must be HOST:PORT, not '\(entry.clients)'") }
            var key: Ed25519.VerifyingKey?
            do {
                key = try IdentityFile.publicKey(fromHex: entry.key)
            } catch {
                problems.append("\(prefix).key: \(error) (the shard's identity public key: secagg key show shard.key)")
            }
            if let key, !keys.insert(key).inserted { problems.append("\(prefix).key: another shard has the same key") }
            if let key, let endpoint {
                shards.append(Shard(name: entry.name, adminHost: endpoint.host, adminPort: endpoint.port, key: key, clients: entry.clients))
            }
        }

        let global = document.global ?? Document.Global()
        let minimumCohorts = global.minCohorts ?? 1
        let minimumClients = global.minClients ?? 1
        if minimumCohorts < 1 { problems.append("global.min_cohorts must be at least 1") }
        if minimumCohorts > max(1, document.shards.count) {
            problems.append("global.min_cohorts \(minimumCohorts) is more than the \(document.shards.count) shard(s): no global round could release")
        }
        if minimumClients < 1 { problems.append("global.min_clients must be at least 1") }
        func duration(_ value: Double?, _ key: String, default fallback: Double?) -> Duration? {
            guard let seconds = value ?? fallback else { return nil }
            guard seconds.isFinite, seconds > 0, seconds <= 7 * 86_400 else {
                problems.append("global.\(key) must be a positive number of seconds (at most a week), not \(seconds)")
                return nil
            }
            return .milliseconds(Int64(seconds * 1000))
        }
        let deadline = duration(global.deadlineSeconds, "deadline_seconds", default: 600)
        let adminTimeout = duration(global.adminTimeoutSeconds, "admin_timeout_seconds", default: 10)
        let every = duration(global.everySeconds, "every_seconds", default: nil)

        var tasks: [Task] = []
        if case let .sequence(entries)? = root.mapping?["tasks"] {
            var taskNames: Set<String> = []
            for (position, node) in entries.enumerated() {
                do {
                    let task = try Task(definition: try Yams.serialize(node: node))
                    if !taskNames.insert(task.configuration.name).inserted {
                        problems.append("tasks[\(position)]: the name '\(task.configuration.name)' is used twice")
                    }
                    tasks.append(task)
                } catch let error as CoordinatorConfigurationError {
                    problems += error.problems.map { "tasks[\(position)]: \($0)" }
                } catch {
                    problems.append("tasks[\(position)]: \(error)")
                }
            }
        } else if root.mapping?["tasks"] != nil {
            problems.append("tasks must be a list of task definitions")
        }

        guard problems.isEmpty, let identity, let deadline, let adminTimeout else {
            throw CoordinatorConfigurationError(problems: problems)
        }
        return RootConfiguration(
            identity: identity, admin: admin, storePath: document.store?.path.map(resolve) ?? resolve("secagg-root.sqlite"),
            metrics: metrics, shards: shards,
            policy: GlobalRoundPolicy(minimumCohorts: minimumCohorts, minimumClients: minimumClients),
            deadline: deadline, adminTimeout: adminTimeout, every: every, tasks: tasks)
    }

    /// A DNS label: what a Kubernetes pod or Service can be named, and what placement hashes.
    static func isValidShardName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard (1...63).contains(bytes.count), bytes.first != UInt8(ascii: "-"), bytes.last != UInt8(ascii: "-") else { return false }
        return bytes.allSatisfy { (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) || $0 == UInt8(ascii: "-") }
    }

    /// HOST:PORT or [IPv6]:PORT.
    static func endpoint(_ text: String) -> (host: String, port: Int)? {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (1...65535).contains(port) else {
            return nil
        }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty, !host.contains(" ") else { return nil }
        return (host, port)
    }
}
