import Yams

/// The keys a YAML document may use, section by section. Any other key is a problem naming its path, its line and
/// the nearest known key: a misspelt setting must stop whoever reads the file, never be silently ignored (a
/// `privcy:` section in the daemon's configuration would run a task without noise; an `epsilom:` in an experiment
/// file would run a sweep without the parameter the researcher meant).
///
/// Shared by the `secaggd` configuration (SecAggCoordinator's `ConfigurationSchema`) and `secagg experiment` files.
///
/// A class rather than an indirect enum: the schemas are static, and an indirect enum's boxes are referenced through
/// pointers with tag bits that LeakSanitizer does not recognise (the fuzzers reported them as leaks).
public final class YAMLKeySchema: Sendable {
    /// The keys of a mapping with the schema below each; nil for a scalar, a list of scalars, or a list.
    public let keys: [String: YAMLKeySchema]?
    /// The schema of a list's elements (nil unless this is a list of sections).
    public let element: YAMLKeySchema?

    private init(keys: [String: YAMLKeySchema]?, element: YAMLKeySchema?) {
        self.keys = keys
        self.element = element
    }

    /// A scalar or a list of scalars: no keys below it.
    public static let value = YAMLKeySchema(keys: nil, element: nil)

    /// A list whose elements follow `element`.
    public static func list(_ element: YAMLKeySchema) -> YAMLKeySchema {
        YAMLKeySchema(keys: nil, element: element)
    }

    /// A mapping with exactly these keys, each with its schema.
    public static func mapping(_ keys: [String: YAMLKeySchema]) -> YAMLKeySchema {
        YAMLKeySchema(keys: keys, element: nil)
    }

    /// A mapping whose keys are a decoder's coding keys, all plain values except those given.
    public static func keys<Keys: CodingKey & CaseIterable>(
        _: Keys.Type, nested: [String: YAMLKeySchema] = [:]
    ) -> YAMLKeySchema {
        var keys: [String: YAMLKeySchema] = [:]
        for key in Keys.allCases { keys[key.stringValue] = nested[key.stringValue] ?? .value }
        return YAMLKeySchema(keys: keys, element: nil)
    }

    /// This mapping with more keys.
    public func adding(_ more: [String: YAMLKeySchema]) -> YAMLKeySchema {
        YAMLKeySchema(keys: (keys ?? [:]).merging(more) { $1 }, element: element)
    }

    /// The unknown keys in `text`, one problem each (none if the text is not YAML: the decoder reports that).
    public func unknownKeys(inYAML text: String) -> [String] {
        guard let node = try? Yams.compose(yaml: text) else { return [] }
        return unknownKeys(in: node)
    }

    /// The unknown keys under `node`, one problem each, in document order: "unknown key 'a.b' (line 3); did you
    /// mean 'c'?".
    public func unknownKeys(in node: Node, path: String = "") -> [String] {
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
    public static func nearest(to name: String, among keys: some Sequence<String>) -> String? {
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
