import Yams

/// Environment variables that override keys of the `secaggd` configuration file (containers, systemd units).
///
/// Each variable replaces one key, as if the file said so; the value is checked first, so a typo is reported with
/// the variable's name rather than as a confusing problem in the file. Any other `SECAGGD_…` variable is an error
/// (a misspelt override must not be silently ignored). Paths in overrides are resolved like paths in the file
/// (relative to the file's folder).
public enum EnvironmentOverrides {
    /// What a variable's value must be.
    public enum Kind: Sendable {
        case text
        case path
        case port
        /// An integer at least this large.
        case integer(minimum: Int)
        /// A positive number of seconds.
        case seconds
        case boolean
    }

    /// One supported variable.
    public struct Variable: Sendable {
        public let name: String
        /// The configuration key it replaces, e.g. `["listen", "port"]`.
        public let key: [String]
        public let kind: Kind

        /// The key as written in messages (`listen.port`).
        public var keyPath: String { key.joined(separator: ".") }
    }

    /// Every supported variable.
    public static let variables: [Variable] = [
        Variable(name: "SECAGGD_LISTEN_HOST", key: ["listen", "host"], kind: .text),
        Variable(name: "SECAGGD_LISTEN_PORT", key: ["listen", "port"], kind: .port),
        Variable(name: "SECAGGD_IDENTITY", key: ["identity"], kind: .path),
        Variable(name: "SECAGGD_ENROLLMENT_FILE", key: ["enrollment", "file"], kind: .path),
        Variable(name: "SECAGGD_RESULTS_DIRECTORY", key: ["results_directory"], kind: .path),
        Variable(name: "SECAGGD_STORE_PATH", key: ["store", "path"], kind: .path),
        Variable(name: "SECAGGD_AUDIT_PATH", key: ["audit", "path"], kind: .path),
        Variable(name: "SECAGGD_METRICS_ENABLED", key: ["metrics", "enabled"], kind: .boolean),
        Variable(name: "SECAGGD_METRICS_HOST", key: ["metrics", "host"], kind: .text),
        Variable(name: "SECAGGD_METRICS_PORT", key: ["metrics", "port"], kind: .port),
        Variable(name: "SECAGGD_MAX_CONNECTIONS", key: ["limits", "max_connections"], kind: .integer(minimum: 1)),
        Variable(name: "SECAGGD_MAX_MESSAGE_BYTES", key: ["limits", "max_message_bytes"], kind: .integer(minimum: 1024)),
        Variable(name: "SECAGGD_HANDSHAKE_TIMEOUT_SECONDS", key: ["limits", "handshake_timeout_seconds"], kind: .seconds),
        Variable(name: "SECAGGD_IDLE_TIMEOUT_SECONDS", key: ["limits", "idle_timeout_seconds"], kind: .seconds),
        Variable(name: "SECAGGD_INBOUND_BUDGET_BYTES", key: ["limits", "inbound_budget_bytes"], kind: .integer(minimum: 65536)),
        Variable(name: "SECAGGD_MAX_CONNECTIONS_PER_ADDRESS", key: ["limits", "max_connections_per_address"], kind: .integer(minimum: 1)),
        Variable(name: "SECAGGD_RECEIVE_GRACE_SECONDS", key: ["limits", "receive_grace_seconds"], kind: .seconds),
        Variable(name: "SECAGGD_MIN_RECEIVE_BYTES_PER_SECOND", key: ["limits", "min_receive_bytes_per_second"], kind: .integer(minimum: 1)),
    ]

    /// Variables `secaggd` reads itself rather than as configuration keys.
    public static let commandVariables: [(name: String, meaning: String)] = [
        ("SECAGGD_CONFIG", "the configuration file, when --config is not given"),
        ("SECAGGD_LOG_LEVEL", "the log level, when --log-level is not given"),
    ]

    /// Applies the overrides in `environment` to a parsed configuration document.
    ///
    /// - Returns: The overridden document, the overrides applied (`NAME -> key`) and the problems found (unknown
    ///   variables, bad values), each one sentence.
    public static func apply(
        _ environment: [String: String], to document: Node
    ) -> (document: Node, applied: [String], problems: [String]) {
        var root = document
        var applied: [String] = []
        var problems: [String] = []
        let known = Set(variables.map(\.name) + commandVariables.map(\.name))
        for name in environment.keys.sorted() where name.hasPrefix("SECAGGD_") && !known.contains(name) {
            problems.append("environment: \(name) is not a secaggd variable (known: \(variables.map(\.name).joined(separator: ", ")), "
                            + "\(commandVariables.map(\.name).joined(separator: ", ")))")
        }
        for variable in variables {
            guard let value = environment[variable.name] else { continue }
            switch node(for: value, kind: variable.kind) {
            case let .success(scalar):
                if let updated = setting(scalar, at: variable.key[...], in: root) {
                    root = updated
                    applied.append("\(variable.name) -> \(variable.keyPath)")
                } else {
                    problems.append("environment: \(variable.name) cannot set \(variable.keyPath): the file's value there is not a mapping")
                }
            case let .failure(problem):
                problems.append("environment: \(variable.name)=\(quoted(value)) is invalid: \(problem.reason)")
            }
        }
        return (root, applied, problems)
    }

    private struct Invalid: Error {
        var reason: String
    }

    private static func node(for value: String, kind: Kind) -> Result<Node, Invalid> {
        let trimmed = value.trimmingCharacters(in: .whitespaces)
        switch kind {
        case .text, .path:
            guard !trimmed.isEmpty else { return .failure(Invalid(reason: "it is empty")) }
            return .success(Node(value, Tag(.str), .doubleQuoted))
        case .port:
            guard let port = Int(trimmed), (0...65535).contains(port) else {
                return .failure(Invalid(reason: "a port is a whole number from 0 to 65535"))
            }
            return .success(Node(String(port), Tag(.int)))
        case let .integer(minimum):
            guard let number = Int(trimmed), number >= minimum else {
                return .failure(Invalid(reason: "expected a whole number of at least \(minimum)"))
            }
            return .success(Node(String(number), Tag(.int)))
        case .seconds:
            guard let seconds = Double(trimmed), seconds.isFinite, seconds > 0 else {
                return .failure(Invalid(reason: "expected a positive number of seconds"))
            }
            return .success(Node(String(seconds), Tag(.float)))
        case .boolean:
            switch trimmed.lowercased() {
            case "true", "yes", "on", "1": return .success(Node("true", Tag(.bool)))
            case "false", "no", "off", "0": return .success(Node("false", Tag(.bool)))
            default: return .failure(Invalid(reason: "expected true or false"))
            }
        }
    }

    /// `root` with `value` at `key` (intermediate mappings created); nil if something on the way is not a mapping.
    private static func setting(_ value: Node, at key: ArraySlice<String>, in root: Node?) -> Node? {
        guard let first = key.first else { return value }
        var mapping: Node.Mapping
        switch root {
        case nil:
            mapping = Node.Mapping([])
        case let .mapping(existing)?:
            mapping = existing
        case let .scalar(scalar)? where scalar.string.isEmpty || scalar.string == "~" || scalar.string == "null":
            mapping = Node.Mapping([])  // `metrics:` with nothing under it
        default:
            return nil
        }
        guard let child = setting(value, at: key.dropFirst(), in: mapping[first]) else { return nil }
        mapping[first] = child
        return .mapping(mapping)
    }

    private static func quoted(_ value: String) -> String {
        "\"" + logSafe(value, limit: 80) + "\""
    }
}
