import Yams

/// The keys the `secaggd` configuration accepts, section by section, taken from the decoders' own coding keys so
/// the two cannot drift apart. Any other key is a problem naming its line (and the nearest known key): a misspelt
/// setting must stop the daemon, never be ignored (a `privcy:` section would otherwise run a task without noise).
///
/// A class rather than an indirect enum: the schemas are static, and an indirect enum's boxes are referenced through
/// pointers with tag bits that LeakSanitizer does not recognise (the fuzzers reported them as leaks).
final class ConfigurationSchema: Sendable {
    /// The keys of a mapping with the schema below each; nil for a scalar, a list of scalars, or a list.
    let keys: [String: ConfigurationSchema]?
    /// The schema of a list's elements (nil unless this is a list of sections).
    let element: ConfigurationSchema?

    private init(keys: [String: ConfigurationSchema]?, element: ConfigurationSchema?) {
        self.keys = keys
        self.element = element
    }

    /// A scalar or a list of scalars: no keys below it.
    static let value = ConfigurationSchema(keys: nil, element: nil)

    /// A list whose elements follow `element`.
    static func list(_ element: ConfigurationSchema) -> ConfigurationSchema {
        ConfigurationSchema(keys: nil, element: element)
    }

    /// A mapping whose keys are all plain values except those given.
    static func keys<Keys: CodingKey & CaseIterable>(
        _: Keys.Type, nested: [String: ConfigurationSchema] = [:]
    ) -> ConfigurationSchema {
        var keys: [String: ConfigurationSchema] = [:]
        for key in Keys.allCases { keys[key.stringValue] = nested[key.stringValue] ?? .value }
        return ConfigurationSchema(keys: keys, element: nil)
    }

    /// This mapping with more keys.
    func adding(_ more: [String: ConfigurationSchema]) -> ConfigurationSchema {
        ConfigurationSchema(keys: (keys ?? [:]).merging(more) { $1 }, element: element)
    }

    typealias Document = ConfigurationFile.Document

    /// One task, as under `tasks:` or given to `secagg admin task create`.
    static let task = keys(Document.Task.CodingKeys.self, nested: [
        "timeouts": keys(Document.Timeouts.CodingKeys.self),
        "privacy": keys(Document.Privacy.CodingKeys.self),
        "encoder": keys(Document.Encoder.CodingKeys.self),
    ])

    /// The whole configuration file: the coordinator's sections and the daemon's operations sections.
    static let file = keys(Document.CodingKeys.self, nested: [
        "listen": keys(Document.Listen.CodingKeys.self),
        "enrollment": keys(Document.Enrollment.CodingKeys.self),
        "limits": keys(Document.Limits.CodingKeys.self),
        "store": keys(Document.Store.CodingKeys.self),
        "admin": keys(Document.Admin.CodingKeys.self),
        "tasks": .list(task),
    ]).adding([
        "audit": keys(DaemonConfiguration.Operations.Audit.CodingKeys.self),
        "metrics": keys(DaemonConfiguration.Operations.Metrics.CodingKeys.self),
    ])

    /// The unknown keys in `text`, one problem each (none if the text is not YAML: the decoder reports that).
    func unknownKeys(inYAML text: String) -> [String] {
        guard let node = try? Yams.compose(yaml: text) else { return [] }
        return unknownKeys(in: node)
    }

    /// The unknown keys under `node`, one problem each, in document order.
    func unknownKeys(in node: Node, path: String = "") -> [String] {
        if let known = keys, case let .mapping(mapping) = node {
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
        }
        if let element, case let .sequence(sequence) = node {
            return sequence.enumerated().flatMap { element.unknownKeys(in: $0.element, path: "\(path)[\($0.offset)]") }
        }
        // A value where a section was expected (or the reverse) is a type problem the decoder reports.
        return []
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
