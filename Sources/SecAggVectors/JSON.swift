import SecAggWire

/// A JSON value with exact integers, for known-answer vector files.
///
/// Numbers keep their literal text, so 64-bit lanes and field elements round-trip exactly (a float parser would
/// lose them). Objects keep their keys sorted when written, so a file is a pure function of its content.
public indirect enum JSONValue: Sendable, Equatable {
    case object([String: JSONValue])
    case array([JSONValue])
    case string(String)
    /// An integer literal: an optional minus sign and decimal digits.
    case number(String)
    case bool(Bool)
    case null

    /// An unsigned integer.
    public static func uint(_ value: some BinaryInteger) -> JSONValue { .number(String(value)) }

    /// Bytes as lowercase hex.
    public static func hex(_ bytes: some Sequence<UInt8>) -> JSONValue {
        .string(hexString(bytes))
    }

    /// A list of unsigned integers.
    public static func uints(_ values: some Sequence<some BinaryInteger>) -> JSONValue {
        .array(values.map { .uint($0) })
    }

    // MARK: Writing

    /// The canonical text: two-space indentation, sorted keys, arrays of scalars on one line, a final newline.
    public var serialized: String {
        var output = ""
        write(into: &output, indent: 0)
        output.append("\n")
        return output
    }

    private var isScalar: Bool {
        switch self {
        case .object, .array: return false
        default: return true
        }
    }

    private func write(into output: inout String, indent: Int) {
        switch self {
        case let .object(members):
            if members.isEmpty {
                output.append("{}")
                return
            }
            output.append("{\n")
            let keys = members.keys.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
            for (position, key) in keys.enumerated() {
                output.append(String(repeating: " ", count: indent + 2))
                Self.writeString(key, into: &output)
                output.append(": ")
                members[key]?.write(into: &output, indent: indent + 2)
                output.append(position + 1 < keys.count ? ",\n" : "\n")
            }
            output.append(String(repeating: " ", count: indent) + "}")
        case let .array(elements):
            if elements.isEmpty {
                output.append("[]")
                return
            }
            if elements.allSatisfy(\.isScalar) {
                output.append("[")
                for (position, element) in elements.enumerated() {
                    if position > 0 { output.append(", ") }
                    element.write(into: &output, indent: indent)
                }
                output.append("]")
                return
            }
            output.append("[\n")
            for (position, element) in elements.enumerated() {
                output.append(String(repeating: " ", count: indent + 2))
                element.write(into: &output, indent: indent + 2)
                output.append(position + 1 < elements.count ? ",\n" : "\n")
            }
            output.append(String(repeating: " ", count: indent) + "]")
        case let .string(text):
            Self.writeString(text, into: &output)
        case let .number(literal):
            output.append(literal)
        case let .bool(value):
            output.append(value ? "true" : "false")
        case .null:
            output.append("null")
        }
    }

    private static func writeString(_ text: String, into output: inout String) {
        output.append("\"")
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": output.append("\\\"")
            case "\\": output.append("\\\\")
            case "\n": output.append("\\n")
            case "\t": output.append("\\t")
            case "\r": output.append("\\r")
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    output.append("\\u" + String(repeating: "0", count: 4 - hex.count) + hex)
                } else {
                    output.unicodeScalars.append(scalar)
                }
            }
        }
        output.append("\"")
    }

    // MARK: Reading

    /// Parses JSON text whose numbers are integers.
    ///
    /// - Throws: ``VectorError/malformedJSON(_:)`` for anything else (fractions and exponents included).
    public init(parsing text: String) throws(VectorError) {
        var parser = Parser(bytes: Array(text.utf8))
        parser.skipWhitespace()
        self = try parser.value(depth: 0)
        parser.skipWhitespace()
        guard parser.position == parser.bytes.count else { throw .malformedJSON("trailing text at byte \(parser.position)") }
    }

    private struct Parser {
        let bytes: [UInt8]
        var position = 0

        mutating func skipWhitespace() {
            while position < bytes.count, [0x20, 0x0a, 0x0d, 0x09].contains(bytes[position]) { position += 1 }
        }

        func fail(_ what: String) -> VectorError { .malformedJSON("\(what) at byte \(position)") }

        mutating func expect(_ literal: String) throws(VectorError) {
            let expected = Array(literal.utf8)
            guard position + expected.count <= bytes.count,
                  Array(bytes[position..<position + expected.count]) == expected else { throw fail("expected \(literal)") }
            position += expected.count
        }

        mutating func value(depth: Int) throws(VectorError) -> JSONValue {
            guard depth < 64 else { throw fail("nesting too deep") }
            guard position < bytes.count else { throw fail("unexpected end") }
            switch bytes[position] {
            case UInt8(ascii: "{"):
                position += 1
                var members: [String: JSONValue] = [:]
                skipWhitespace()
                if position < bytes.count, bytes[position] == UInt8(ascii: "}") {
                    position += 1
                    return .object(members)
                }
                while true {
                    skipWhitespace()
                    let key = try string()
                    skipWhitespace()
                    try expect(":")
                    skipWhitespace()
                    guard members[key] == nil else { throw fail("duplicate key \(key)") }
                    members[key] = try value(depth: depth + 1)
                    skipWhitespace()
                    guard position < bytes.count else { throw fail("unterminated object") }
                    if bytes[position] == UInt8(ascii: ",") { position += 1; continue }
                    try expect("}")
                    return .object(members)
                }
            case UInt8(ascii: "["):
                position += 1
                var elements: [JSONValue] = []
                skipWhitespace()
                if position < bytes.count, bytes[position] == UInt8(ascii: "]") {
                    position += 1
                    return .array(elements)
                }
                while true {
                    skipWhitespace()
                    elements.append(try value(depth: depth + 1))
                    skipWhitespace()
                    guard position < bytes.count else { throw fail("unterminated array") }
                    if bytes[position] == UInt8(ascii: ",") { position += 1; continue }
                    try expect("]")
                    return .array(elements)
                }
            case UInt8(ascii: "\""):
                return .string(try string())
            case UInt8(ascii: "t"):
                try expect("true")
                return .bool(true)
            case UInt8(ascii: "f"):
                try expect("false")
                return .bool(false)
            case UInt8(ascii: "n"):
                try expect("null")
                return .null
            default:
                let start = position
                if bytes[position] == UInt8(ascii: "-") { position += 1 }
                let digitsStart = position
                while position < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[position]) {
                    position += 1
                }
                guard position > digitsStart else { throw fail("unexpected character") }
                if position < bytes.count, [UInt8(ascii: "."), UInt8(ascii: "e"), UInt8(ascii: "E")].contains(bytes[position]) {
                    throw fail("only integers are allowed")
                }
                return .number(String(decoding: bytes[start..<position], as: UTF8.self))
            }
        }

        mutating func string() throws(VectorError) -> String {
            try expect("\"")
            var scalars = String.UnicodeScalarView()
            var raw: [UInt8] = []
            func flush() {
                scalars.append(contentsOf: String(decoding: raw, as: UTF8.self).unicodeScalars)
                raw.removeAll()
            }
            while position < bytes.count {
                let byte = bytes[position]
                position += 1
                switch byte {
                case UInt8(ascii: "\""):
                    flush()
                    return String(scalars)
                case UInt8(ascii: "\\"):
                    flush()
                    guard position < bytes.count else { throw fail("unterminated escape") }
                    let escape = bytes[position]
                    position += 1
                    switch escape {
                    case UInt8(ascii: "\""): scalars.append("\"")
                    case UInt8(ascii: "\\"): scalars.append("\\")
                    case UInt8(ascii: "/"): scalars.append("/")
                    case UInt8(ascii: "n"): scalars.append("\n")
                    case UInt8(ascii: "t"): scalars.append("\t")
                    case UInt8(ascii: "r"): scalars.append("\r")
                    case UInt8(ascii: "b"): scalars.append("\u{8}")
                    case UInt8(ascii: "f"): scalars.append("\u{c}")
                    case UInt8(ascii: "u"):
                        guard position + 4 <= bytes.count,
                              let code = UInt32(String(decoding: bytes[position..<position + 4], as: UTF8.self), radix: 16),
                              let scalar = Unicode.Scalar(code) else { throw fail("bad \\u escape") }
                        position += 4
                        scalars.append(scalar)
                    default: throw fail("bad escape")
                    }
                default:
                    raw.append(byte)
                }
            }
            throw fail("unterminated string")
        }
    }
}

// MARK: - Typed access

extension JSONValue {
    /// Member `key` of an object.
    public func member(_ key: String) throws(VectorError) -> JSONValue {
        guard case let .object(members) = self else { throw .badField(key, "parent is not an object") }
        guard let value = members[key] else { throw .badField(key, "missing") }
        return value
    }

    /// Member `key` if this is an object that has it.
    public func optionalMember(_ key: String) -> JSONValue? {
        guard case let .object(members) = self else { return nil }
        return members[key]
    }

    func string(_ key: String) throws(VectorError) -> String {
        guard case let .string(text) = try member(key) else { throw .badField(key, "not a string") }
        return text
    }

    func bytes(_ key: String) throws(VectorError) -> [UInt8] {
        let text = try string(key)
        guard let bytes = SecAggWire.bytes(fromHex: text) else { throw .badField(key, "not hex") }
        return bytes
    }

    func uint64(_ key: String) throws(VectorError) -> UInt64 {
        guard let value = try member(key).asUInt64 else { throw .badField(key, "not an unsigned 64-bit integer") }
        return value
    }

    func uint32(_ key: String) throws(VectorError) -> UInt32 {
        guard let value = UInt32(exactly: try uint64(key)) else { throw .badField(key, "not an unsigned 32-bit integer") }
        return value
    }

    func int(_ key: String) throws(VectorError) -> Int {
        guard let value = Int(exactly: try uint64(key)) else { throw .badField(key, "out of range") }
        return value
    }

    func bool(_ key: String) throws(VectorError) -> Bool {
        guard case let .bool(value) = try member(key) else { throw .badField(key, "not a boolean") }
        return value
    }

    func array(_ key: String) throws(VectorError) -> [JSONValue] {
        guard case let .array(elements) = try member(key) else { throw .badField(key, "not an array") }
        return elements
    }

    func uint64s(_ key: String) throws(VectorError) -> [UInt64] {
        var values: [UInt64] = []
        for element in try array(key) {
            guard let value = element.asUInt64 else { throw .badField(key, "not a list of unsigned integers") }
            values.append(value)
        }
        return values
    }

    func int64s(_ key: String) throws(VectorError) -> [Int64] {
        var values: [Int64] = []
        for element in try array(key) {
            guard case let .number(literal) = element, let value = Int64(literal) else {
                throw .badField(key, "not a list of signed integers")
            }
            values.append(value)
        }
        return values
    }

    var asUInt64: UInt64? {
        guard case let .number(literal) = self else { return nil }
        return UInt64(literal)
    }
}
