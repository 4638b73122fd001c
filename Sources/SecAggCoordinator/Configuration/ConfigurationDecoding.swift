import Yams

/// Decodes a configuration document (the daemon's file, or one task for `secagg admin task create|update`) and
/// reports every type problem at once, each with its key path as the user wrote it, its line, what was expected
/// and what was found — not only the first, in the decoder's words ("Expected to decode Int but found Scalar").
///
/// How: decode; at a wrong or missing value, note the problem, put a placeholder of the expected type in its place
/// in the parsed YAML, and decode again, until the document decodes. The placeholders never reach a configuration:
/// any problem noted is thrown.
public enum ConfigurationDecoding {
    /// - Throws: ``CoordinatorConfigurationError`` listing every problem: not YAML at all, wrong types, missing keys.
    public static func decode<T: Decodable>(_ type: T.Type, from text: String) throws(CoordinatorConfigurationError) -> T {
        let composed: Node?
        do {
            composed = try Yams.compose(yaml: text)
        } catch {
            throw CoordinatorConfigurationError(problems: ["not valid YAML: \(error)"])
        }
        guard let composed else { throw CoordinatorConfigurationError(problems: ["the document is empty"]) }
        return try decode(type, from: composed)
    }

    /// Decodes parsed YAML (whose nodes keep the lines of the text they came from).
    ///
    /// - Throws: ``CoordinatorConfigurationError`` listing every wrong type and missing key.
    public static func decode<T: Decodable>(_ type: T.Type, from node: Node) throws(CoordinatorConfigurationError) -> T {
        var document = node
        var problems: [String] = []
        // Paths given placeholders: a later complaint about one is the placeholder's, not the user's.
        var placed: Set<String> = []
        for _ in 0..<256 {
            do {
                let value = try YAMLDecoder().decode(T.self, from: document)
                guard problems.isEmpty else { break }
                return value
            } catch let DecodingError.typeMismatch(expected, context) {
                guard fix(&document, at: context.codingPath, expected: expected, problems: &problems, placed: &placed) else { break }
            } catch let DecodingError.valueNotFound(expected, context) {
                guard fix(&document, at: context.codingPath, expected: expected, problems: &problems, placed: &placed) else { break }
            } catch let DecodingError.keyNotFound(key, context) {
                let keys = context.codingPath + [key]
                let parent = value(at: context.codingPath, in: document)
                let line = parent?.mark.map { " (in the section at line \($0.line))" } ?? ""
                if !placed.contains(path(context.codingPath)) { problems.append("missing key '\(path(keys))'\(line)") }
                placed.insert(path(keys))
                // A plain scalar decodes as text and as numbers; another type is fixed at the next pass, silently.
                guard replace(at: keys, in: &document, with: Node("0")) else { break }
            } catch let DecodingError.dataCorrupted(context) {
                problems.append("invalid value at '\(path(context.codingPath))'\(lineText(context.codingPath, document)): "
                    + context.debugDescription)
                break
            } catch {
                problems.append("\(error)")
                break
            }
        }
        throw CoordinatorConfigurationError(problems: problems)
    }

    /// Notes a value of the wrong type (unless it is a placeholder) and puts one of the expected type in its place.
    ///
    /// - Returns: false if the value cannot be replaced (the decoding must stop).
    private static func fix(
        _ document: inout Node, at keys: [any CodingKey], expected: Any.Type, problems: inout [String], placed: inout Set<String>
    ) -> Bool {
        let here = path(keys)
        let (wanted, placeholder) = expectation(expected)
        if !placed.contains(here), !placed.contains(where: { here.hasPrefix($0 + ".") || here.hasPrefix($0 + "[") }) {
            let found = value(at: keys, in: document).map(describe) ?? "nothing"
            problems.append("'\(here)'\(lineText(keys, document)): expected \(wanted), found \(found)")
        }
        guard !placed.contains(here) || value(at: keys, in: document) != placeholder else { return false }
        placed.insert(here)
        return replace(at: keys, in: &document, with: placeholder)
    }

    /// What a Swift type reads as in a configuration file, and a value of it.
    private static func expectation(_ type: Any.Type) -> (String, Node) {
        switch type {
        case is Bool.Type: return ("true or false", Node("false"))
        case is String.Type: return ("text", Node("x", Tag(.str)))
        case is Double.Type, is Float.Type: return ("a number", Node("1"))
        case is Int.Type, is Int64.Type, is Int32.Type, is UInt.Type, is UInt64.Type, is UInt32.Type, is UInt16.Type,
             is UInt8.Type:
            return ("a whole number", Node("1"))
        default:
            let name = "\(type)"
            if name.hasPrefix("Array") { return ("a list", Node([Node]())) }
            return ("a section of keys", Node([(Node, Node)]()))
        }
    }

    /// A node as an error message shows it.
    private static func describe(_ node: Node) -> String {
        switch node {
        case let .scalar(scalar): return "'\(scalar.string)'"
        case .mapping: return "a section of keys"
        case .sequence: return "a list"
        case .alias: return "an alias"
        }
    }

    /// The node the coding path leads to, if it exists.
    private static func value(at keys: [any CodingKey], in document: Node) -> Node? {
        var current = document
        for key in keys {
            if let index = key.intValue, case let .sequence(sequence) = current, sequence.indices.contains(index) {
                current = sequence[index]
            } else if case let .mapping(mapping) = current, let next = mapping[key.stringValue] {
                current = next
            } else {
                return nil
            }
        }
        return current
    }

    /// Puts `value` at the coding path (creating the last key of a mapping if it is missing).
    ///
    /// - Returns: false if the path does not lead through the document.
    private static func replace(at keys: [any CodingKey], in document: inout Node, with value: Node) -> Bool {
        guard let key = keys.first else {
            document = value
            return true
        }
        let rest = Array(keys.dropFirst())
        if let index = key.intValue, case var .sequence(sequence) = document, sequence.indices.contains(index) {
            var child = sequence[index]
            guard replace(at: rest, in: &child, with: value) else { return false }
            sequence[index] = child
            document = .sequence(sequence)
            return true
        }
        if case var .mapping(mapping) = document {
            var child = mapping[key.stringValue] ?? Node([(Node, Node)]())
            guard replace(at: rest, in: &child, with: value) else { return false }
            mapping[key.stringValue] = child
            document = .mapping(mapping)
            return true
        }
        return false
    }

    /// ` (line N)` for the value at the path, if the document has it.
    private static func lineText(_ keys: [any CodingKey], _ document: Node) -> String {
        value(at: keys, in: document)?.mark.map { " (line \($0.line))" } ?? ""
    }

    /// A coding path as the file writes it: `tasks[0].privacy.clip`.
    static func path(_ keys: [any CodingKey]) -> String {
        var text = ""
        for key in keys {
            if let index = key.intValue {
                text += "[\(index)]"
            } else {
                text += text.isEmpty ? key.stringValue : ".\(key.stringValue)"
            }
        }
        return text
    }
}
