import Yams

/// The keys the `secaggd` configuration accepts, section by section, taken from the decoders' own coding keys so
/// the two cannot drift apart. Any other key is a problem naming its line (and the nearest known key): a misspelt
/// setting must stop the daemon, never be ignored (a `privcy:` section would otherwise run a task without noise).
indirect enum ConfigurationSchema: Sendable {
    /// A scalar or a list of scalars: no keys below it.
    case value
    /// A mapping with these keys, each with its own schema.
    case mapping([String: ConfigurationSchema])
    /// A list whose elements follow the schema.
    case list(ConfigurationSchema)

    /// A mapping whose keys are all plain values except those given.
    static func keys<Keys: CodingKey & CaseIterable>(_: Keys.Type, nested: [String: ConfigurationSchema] = [:]) -> Self {
        var keys: [String: ConfigurationSchema] = [:]
        for key in Keys.allCases { keys[key.stringValue] = nested[key.stringValue] ?? .value }
        return .mapping(keys)
    }

    typealias Document = ConfigurationFile.Document

    /// One task, as under `tasks:` or given to `secagg admin task create`.
    static let task = keys(Document.Task.CodingKeys.self, nested: [
        "timeouts": keys(Document.Timeouts.CodingKeys.self),
        "privacy": keys(Document.Privacy.CodingKeys.self),
    ])

    /// The whole configuration file: the coordinator's sections and the daemon's operations sections.
    static let file: ConfigurationSchema = {
        guard case var .mapping(root) = keys(Document.CodingKeys.self, nested: [
            "listen": keys(Document.Listen.CodingKeys.self),
            "enrollment": keys(Document.Enrollment.CodingKeys.self),
            "limits": keys(Document.Limits.CodingKeys.self),
            "store": keys(Document.Store.CodingKeys.self),
            "admin": keys(Document.Admin.CodingKeys.self),
            "tasks": .list(task),
        ]) else { return .value }
        root["audit"] = keys(DaemonConfiguration.Operations.Audit.CodingKeys.self)
        root["metrics"] = keys(DaemonConfiguration.Operations.Metrics.CodingKeys.self)
        return .mapping(root)
    }()

    /// The unknown keys in `text`, one problem each (none if the text is not YAML: the decoder reports that).
    func unknownKeys(inYAML text: String) -> [String] {
        guard let node = try? Yams.compose(yaml: text) else { return [] }
        return unknownKeys(in: node)
    }

    /// The unknown keys under `node`, one problem each, in document order.
    func unknownKeys(in node: Node, path: String = "") -> [String] {
        switch (self, node) {
        case let (.mapping(known), .mapping(mapping)):
            var problems: [String] = []
            for (key, value) in mapping {
                let name = key.string ?? "\(key)"
                let here = path.isEmpty ? name : "\(path).\(name)"
                guard let schema = known[name] else {
                    var problem = "unknown key '\(here)'"
                    if let line = key.mark?.line { problem += " (line \(line))" }
                    if let suggestion = Self.nearest(to: name, among: known.keys) { problem += "; did you mean '\(suggestion)'?" }
                    problems.append(problem)
                    continue
                }
                problems += schema.unknownKeys(in: value, path: here)
            }
            return problems
        case let (.list(element), .sequence(sequence)):
            return sequence.enumerated().flatMap { element.unknownKeys(in: $0.element, path: "\(path)[\($0.offset)]") }
        default:
            // A value where a section was expected (or the reverse) is a type problem the decoder reports.
            return []
        }
    }

    /// The known key closest to `name` by edit distance, if it is close enough to be a likely misspelling.
    static func nearest(to name: String, among keys: some Sequence<String>) -> String? {
        let candidates = keys.map { ($0, distance(Array(name), Array($0))) }.filter { $0.1 <= max(2, name.count / 3) }
        return candidates.min { $0.1 != $1.1 ? $0.1 < $1.1 : $0.0 < $1.0 }?.0
    }

    /// Levenshtein distance.
    private static func distance(_ a: [Character], _ b: [Character]) -> Int {
        var previous = Array(0...b.count)
        for (i, x) in a.enumerated() {
            var current = [i + 1] + Array(repeating: 0, count: b.count)
            for (j, y) in b.enumerated() {
                current[j + 1] = min(previous[j + 1] + 1, current[j] + 1, previous[j] + (x == y ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }
}
