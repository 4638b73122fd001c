import Foundation

/// A value in an audit record: the JSON subset the audit log writes, with one canonical encoding.
///
/// Only strings, 64-bit integers, booleans, arrays and objects: no floating point and no `null`, so the canonical
/// bytes of a record never depend on how a platform prints numbers (real numbers such as ε are written as
/// strings). Canonical form (`protocol/AUDIT.md`): no whitespace, object keys sorted by their UTF-8 bytes, strings
/// escaped minimally (`\"`, `\\`, `\b \f \n \r \t`, other controls below U+0020 as `\u00XX`), everything else
/// verbatim UTF-8.
public enum AuditValue: Sendable, Hashable {
    case string(String)
    case integer(Int64)
    case boolean(Bool)
    case array([AuditValue])
    case object([String: AuditValue])

    /// The canonical UTF-8 bytes.
    public var canonicalBytes: [UInt8] {
        var output: [UInt8] = []
        write(into: &output)
        return output
    }

    func write(into output: inout [UInt8]) {
        switch self {
        case let .string(text):
            Self.writeString(text, into: &output)
        case let .integer(value):
            output += Array(String(value).utf8)
        case let .boolean(value):
            output += Array((value ? "true" : "false").utf8)
        case let .array(items):
            output.append(UInt8(ascii: "["))
            for (position, item) in items.enumerated() {
                if position > 0 { output.append(UInt8(ascii: ",")) }
                item.write(into: &output)
            }
            output.append(UInt8(ascii: "]"))
        case let .object(members):
            output.append(UInt8(ascii: "{"))
            let sorted = members.map { (Array($0.key.utf8), $0.value) }.sorted { $0.0.lexicographicallyPrecedes($1.0) }
            for (position, (key, value)) in sorted.enumerated() {
                if position > 0 { output.append(UInt8(ascii: ",")) }
                Self.writeString(String(decoding: key, as: UTF8.self), into: &output)
                output.append(UInt8(ascii: ":"))
                value.write(into: &output)
            }
            output.append(UInt8(ascii: "}"))
        }
    }

    private static func writeString(_ text: String, into output: inout [UInt8]) {
        let hex = Array("0123456789abcdef".utf8)
        output.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): output += [UInt8(ascii: "\\"), UInt8(ascii: "\"")]
            case UInt8(ascii: "\\"): output += [UInt8(ascii: "\\"), UInt8(ascii: "\\")]
            case 0x08: output += [UInt8(ascii: "\\"), UInt8(ascii: "b")]
            case 0x0C: output += [UInt8(ascii: "\\"), UInt8(ascii: "f")]
            case 0x0A: output += [UInt8(ascii: "\\"), UInt8(ascii: "n")]
            case 0x0D: output += [UInt8(ascii: "\\"), UInt8(ascii: "r")]
            case 0x09: output += [UInt8(ascii: "\\"), UInt8(ascii: "t")]
            case 0..<0x20:
                output += Array("\\u00".utf8) + [hex[Int(byte >> 4)], hex[Int(byte & 0x0F)]]
            default: output.append(byte)
            }
        }
        output.append(UInt8(ascii: "\""))
    }

    /// Parses one JSON text into an ``AuditValue``.
    ///
    /// - Throws: ``AuditValueError`` if the bytes are not JSON, or use a value outside the subset (`null`, a
    ///   fraction, an integer beyond 64 bits).
    public init(parsing bytes: [UInt8]) throws(AuditValueError) {
        do {
            self = try JSONDecoder().decode(AuditValue.self, from: Data(bytes))
        } catch {
            throw AuditValueError(reason: "not valid JSON in the audit subset (\(error))")
        }
    }

    /// The member `key` of an object, if this is one.
    public subscript(key: String) -> AuditValue? {
        guard case let .object(members) = self else { return nil }
        return members[key]
    }

    /// The string, if this is one.
    public var stringValue: String? {
        guard case let .string(text) = self else { return nil }
        return text
    }

    /// The integer, if this is one.
    public var integerValue: Int64? {
        guard case let .integer(value) = self else { return nil }
        return value
    }
}

extension AuditValue: Decodable {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let value = try? container.decode(Bool.self) {
            self = .boolean(value)
        } else if let value = try? container.decode(Int64.self) {
            self = .integer(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([AuditValue].self) {
            self = .array(value)
        } else if let value = try? container.decode([String: AuditValue].self) {
            self = .object(value)
        } else {
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: "only strings, integers, booleans, arrays and objects are allowed")
        }
    }
}

extension AuditValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral {
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int64) { self = .integer(value) }
    public init(booleanLiteral value: Bool) { self = .boolean(value) }
}

/// Bytes that are not an audit value.
public struct AuditValueError: Error, Sendable, CustomStringConvertible {
    public var reason: String
    public var description: String { reason }
}
