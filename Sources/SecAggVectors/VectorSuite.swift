import SecAggWire

/// Why vectors could not be generated or checked.
public enum VectorError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A file is not valid JSON of the accepted subset (integers only).
    case malformedJSON(String)
    /// A field is missing or has the wrong type.
    case badField(String, String)
    /// The implementation disagrees with the spec formula it was cross-checked against while computing a vector.
    case disagreement(String)
    /// The explicit random draws of a transcript ran out, or were not all used.
    case draws(String)

    public var description: String {
        switch self {
        case let .malformedJSON(reason): return "malformed JSON: \(reason)"
        case let .badField(field, reason): return "field \(field): \(reason)"
        case let .disagreement(reason): return "implementation disagrees with the spec: \(reason)"
        case let .draws(reason): return "random draws: \(reason)"
        }
    }
}

/// One difference between a vector file and what the implementation recomputes from the file's inputs.
public struct VectorMismatch: Sendable, Equatable, CustomStringConvertible {
    /// The file name, e.g. `kdf.json`.
    public var file: String
    /// Where in the file, e.g. `cases[2](graph).output`.
    public var path: String
    /// What went wrong: both values, or why the case could not be recomputed.
    public var detail: String

    public var description: String { "\(file): \(path): \(detail)" }
}

/// One vector file: how its cases are made (generation) and how a case is recomputed from its explicit inputs.
struct VectorFileKind: Sendable {
    let name: String
    let description: String
    /// The input-only cases this implementation writes.
    let inputs: @Sendable () throws(VectorError) -> [JSONValue]
    /// The complete case (inputs echoed, every output computed) from a case's inputs.
    let compute: @Sendable (JSONValue) throws(VectorError) -> JSONValue
}

/// The known-answer vectors of `protocol/vectors/` (SPEC "Test vectors"): generation and verification.
///
/// Every file is `{"file", "protocol_version", "description", "cases": [...]}`. Verification recomputes each case
/// from its explicit inputs with the implementation and compares every field, so a vector and the code can only
/// agree if the code reproduces every byte.
public enum VectorSuite {
    static let kinds: [VectorFileKind] = [
        PrimitiveVectors.kdf, PrimitiveVectors.prg, PrimitiveVectors.shamir, PrimitiveVectors.shareEncryption,
        PrimitiveVectors.graph, PrimitiveVectors.merkle, PrimitiveVectors.parameters, MessageVectors.messages,
    ] + TranscriptVectors.files + [NegativeVectors.negative, FederationVectors.cohortRelease, FederationVectors.shardPlacement]

    /// The names of every vector file, in generation order.
    public static var fileNames: [String] { kinds.map(\.name) }

    /// Generates every file's text, byte for byte reproducible.
    ///
    /// - Throws: ``VectorError`` if the implementation disagrees with a spec formula it is cross-checked against.
    public static func generate() throws(VectorError) -> [(name: String, contents: String)] {
        var files: [(name: String, contents: String)] = []
        for kind in kinds {
            var cases: [JSONValue] = []
            for input in try kind.inputs() {
                cases.append(try kind.compute(input))
            }
            let file = JSONValue.object([
                "file": .string(kind.name),
                "protocol_version": .uint(WireLimits.protocolVersion),
                "description": .string(kind.description),
                "cases": .array(cases),
            ])
            files.append((kind.name, file.serialized))
        }
        return files
    }

    /// Checks one file's text: every case is recomputed from its inputs and compared field by field.
    ///
    /// - Returns: every mismatch (at most 100 per file); empty when the file agrees with the implementation.
    public static func verify(name: String, contents: String) -> [VectorMismatch] {
        guard let kind = kinds.first(where: { $0.name == name }) else {
            return [VectorMismatch(file: name, path: "", detail: "not a known vector file")]
        }
        let file: JSONValue
        do {
            file = try JSONValue(parsing: contents)
        } catch {
            return [VectorMismatch(file: name, path: "", detail: error.description)]
        }
        var mismatches: [VectorMismatch] = []
        for (key, expected) in [("file", JSONValue.string(name)), ("protocol_version", .uint(WireLimits.protocolVersion))]
        where file.optionalMember(key) != expected {
            mismatches.append(VectorMismatch(file: name, path: key, detail: "expected \(expected.brief)"))
        }
        guard case let .array(cases)? = file.optionalMember("cases") else {
            return mismatches + [VectorMismatch(file: name, path: "cases", detail: "missing or not an array")]
        }
        for (position, stored) in cases.enumerated() {
            var path = "cases[\(position)]"
            if case let .string(caseName)? = stored.optionalMember("name") { path += "(\(caseName))" }
            do {
                let recomputed = try kind.compute(stored)
                differences(stored: stored, recomputed: recomputed, path: path, file: name, into: &mismatches)
            } catch {
                mismatches.append(VectorMismatch(file: name, path: path, detail: "cannot recompute: \(error)"))
            }
            if mismatches.count >= 100 { break }
        }
        return Array(mismatches.prefix(100))
    }

    /// Appends every difference between the stored and the recomputed value.
    static func differences(
        stored: JSONValue, recomputed: JSONValue, path: String, file: String, into mismatches: inout [VectorMismatch]
    ) {
        switch (stored, recomputed) {
        case let (.object(left), .object(right)):
            for key in Set(left.keys).union(right.keys).sorted() {
                let child = path + "." + key
                switch (left[key], right[key]) {
                case let (l?, r?): differences(stored: l, recomputed: r, path: child, file: file, into: &mismatches)
                case (nil, _?): mismatches.append(VectorMismatch(file: file, path: child, detail: "missing in the file"))
                case (_?, nil): mismatches.append(VectorMismatch(file: file, path: child, detail: "not produced by the implementation"))
                case (nil, nil): break
                }
            }
        case let (.array(left), .array(right)) where left.count == right.count && !left.allSatisfy(\.isScalarValue):
            for (index, pair) in zip(left, right).enumerated() {
                differences(stored: pair.0, recomputed: pair.1, path: "\(path)[\(index)]", file: file, into: &mismatches)
            }
        default:
            if stored != recomputed {
                mismatches.append(VectorMismatch(
                    file: file, path: path, detail: "file has \(stored.brief), implementation computes \(recomputed.brief)"))
            }
        }
    }
}

extension JSONValue {
    var isScalarValue: Bool {
        switch self {
        case .object, .array: return false
        default: return true
        }
    }

    /// A short rendering for mismatch reports.
    var brief: String {
        var text = serialized.replacingNewlines()
        if text.count > 120 { text = String(text.prefix(117)) + "..." }
        return text
    }
}

extension String {
    fileprivate func replacingNewlines() -> String {
        var result = ""
        var lastWasSpace = false
        for character in self {
            if character == "\n" || character == " " {
                if !lastWasSpace { result.append(" ") }
                lastWasSpace = true
            } else {
                result.append(character)
                lastWasSpace = false
            }
        }
        return result.trimmingSpaces()
    }

    fileprivate func trimmingSpaces() -> String {
        var slice = Substring(self)
        while slice.first == " " { slice = slice.dropFirst() }
        while slice.last == " " { slice = slice.dropLast() }
        return String(slice)
    }
}
