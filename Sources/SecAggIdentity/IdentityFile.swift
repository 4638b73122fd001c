#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import SecAggCrypto
import SecAggWire

// No Foundation here: this module is part of the client library (libsecaggc), and Foundation would bring ICU
// (about 44 MB) into every device's copy of it. The file is read and written with POSIX calls.

/// Long-term identities on disk (SPEC §2.6.3): a text file with the line `secagg-identity-v1` followed by the
/// 32-byte Ed25519 seed in hexadecimal, readable by its owner only (mode 0600). The Noise static key is derived
/// from it, so one file identifies a party for signing and for the transport.
public enum IdentityFile {
    static let header = "secagg-identity-v1"

    /// Creates a new identity at `path` from libsodium's CSPRNG; refuses to overwrite an existing file.
    ///
    /// - Throws: ``IdentityFileError/alreadyExists(_:)`` or the file system's error.
    @discardableResult
    public static func create(at path: String) throws -> Ed25519.SigningKey {
        var random = SystemRandom()
        let key = Ed25519.SigningKey(using: &random)
        try save(key, to: path)
        return key
    }

    /// Writes `key` to a new file at `path` (mode 0600); refuses to overwrite an existing file.
    ///
    /// - Throws: ``IdentityFileError/alreadyExists(_:)`` or ``IdentityFileError/unwritable(_:_:)``.
    public static func save(_ key: Ed25519.SigningKey, to path: String) throws {
        let text = header + "\n" + hexString(key.seed.unsafeCopyToArray()) + "\n"
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        guard descriptor >= 0 else {
            if errno == EEXIST { throw IdentityFileError.alreadyExists(path) }
            throw IdentityFileError.unwritable(path, String(cString: strerror(errno)))
        }
        defer { close(descriptor) }
        let bytes = Array(text.utf8)
        let written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        guard written == bytes.count else { throw IdentityFileError.unwritable(path, String(cString: strerror(errno))) }
    }

    /// Loads the identity at `path`.
    ///
    /// - Throws: ``IdentityFileError`` if the file is missing, readable by others, or malformed.
    public static func load(from path: String) throws -> Ed25519.SigningKey {
        var status = stat()
        guard stat(path, &status) == 0 else { throw IdentityFileError.unreadable(path, String(cString: strerror(errno))) }
        if status.st_mode & 0o077 != 0 {
            throw IdentityFileError.tooPermissive(path, mode: String(status.st_mode & 0o777, radix: 8))
        }
        guard let data = readSmallFile(path), let text = String(validating: data, as: UTF8.self) else {
            throw IdentityFileError.unreadable(path, "cannot read the file")
        }
        let lines = text.split(whereSeparator: \.isNewline).map { trimmingWhitespace($0) }
        guard lines.count == 2, lines[0] == header, let seed = bytes(fromHex: lines[1]), seed.count == 32,
              let key = try? Ed25519.SigningKey(seed: SecureBytes(copying: seed)) else {
            throw IdentityFileError.malformed(path)
        }
        return key
    }

    /// Parses a public key given as 64 hexadecimal digits.
    ///
    /// - Throws: ``IdentityFileError/invalidPublicKey(_:)`` unless it is a valid Ed25519 point.
    public static func publicKey(fromHex text: String) throws -> Ed25519.VerifyingKey {
        guard let raw = bytes(fromHex: trimmingWhitespace(text[...])), raw.count == 32,
              let key = try? Ed25519.VerifyingKey(rawRepresentation: raw), key.isPrimeOrderPoint else {
            throw IdentityFileError.invalidPublicKey(text)
        }
        return key
    }
}

extension IdentityFile {
    /// The contents of a file of at most 64 KiB (an identity file is 84 bytes), or nil if it cannot be read or is
    /// larger.
    static func readSmallFile(_ path: String) -> [UInt8]? {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        let limit = 64 << 10
        var contents: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            guard count >= 0 else { return nil }
            if count == 0 { return contents }
            contents += buffer[..<count]
            guard contents.count <= limit else { return nil }
        }
    }

    /// `text` without leading and trailing whitespace.
    static func trimmingWhitespace(_ text: Substring) -> String {
        String(text.drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed())
    }
}

/// Why an identity or public key could not be used.
public enum IdentityFileError: Error, Sendable, CustomStringConvertible {
    case alreadyExists(String)
    case unwritable(String, String)
    case unreadable(String, String)
    case tooPermissive(String, mode: String)
    case malformed(String)
    case invalidPublicKey(String)

    public var description: String {
        switch self {
        case let .alreadyExists(path): return "\(path) already exists; refusing to overwrite an identity"
        case let .unwritable(path, reason): return "cannot write \(path): \(reason)"
        case let .unreadable(path, reason): return "cannot read \(path): \(reason)"
        case let .tooPermissive(path, mode):
            return "\(path) has mode \(mode); an identity must be readable by its owner only (chmod 600)"
        case let .malformed(path): return "\(path) is not a secagg identity file"
        case let .invalidPublicKey(text): return "'\(text)' is not an Ed25519 public key (64 hex digits)"
        }
    }
}
