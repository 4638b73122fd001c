import CSodium

/// Secret bytes: zeroed when released, compared in constant time, never printed.
///
/// Every secret in secagg (seeds, private keys, shared secrets, derived keys, Shamir shares in the clear) is
/// held in a `SecureBytes`. The storage is a private heap allocation that `sodium_memzero` clears in `deinit`.
/// Instances are immutable after creation, which is what makes the type `Sendable`.
public final class SecureBytes: @unchecked Sendable {
    private let storage: UnsafeMutableRawBufferPointer

    private let byteCount: Int

    /// The number of bytes held.
    public var count: Int { byteCount }

    /// Creates `count` zero bytes, then lets `initializer` fill them.
    public init(count: Int, initializingWith initializer: (UnsafeMutableRawBufferPointer) throws -> Void) rethrows {
        Sodium.initialize()
        precondition(count >= 0, "SecureBytes count must not be negative")
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(count, 1), alignment: 16)
        buffer.initializeMemory(as: UInt8.self, repeating: 0)
        do {
            try initializer(UnsafeMutableRawBufferPointer(rebasing: buffer[0..<count]))
        } catch {
            sodium_memzero(buffer.baseAddress, buffer.count)
            buffer.deallocate()
            throw error
        }
        storage = buffer
        byteCount = count
    }

    /// Copies `bytes` into secure storage. The caller remains responsible for its own copy.
    public convenience init(copying bytes: some Collection<UInt8>) {
        // Copied straight into the secure allocation: no unzeroed intermediate array.
        self.init(count: bytes.count) { buffer in
            buffer.copyBytes(from: bytes)
        }
    }

    /// Draws `count` fresh bytes from `random`.
    public convenience init(randomCount count: Int, using random: inout some RandomSource) {
        self.init(count: count) { buffer in
            random.fill(buffer)
        }
    }

    deinit {
        sodium_memzero(storage.baseAddress, storage.count)
        storage.deallocate()
    }

    /// Calls `body` with read-only access to the secret bytes. Do not let the pointer escape.
    public func withUnsafeBytes<Result>(_ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result {
        try body(UnsafeRawBufferPointer(rebasing: storage[0..<byteCount]))
    }

    /// Copies the secret out as an array. Only for encoding into an encrypted or hashed container: the copy
    /// is not zeroed automatically.
    public func unsafeCopyToArray() -> [UInt8] {
        withUnsafeBytes { Array($0) }
    }

    /// Constant-time equality (`sodium_memcmp`); lengths are public and compared first.
    public func constantTimeEquals(_ other: SecureBytes) -> Bool {
        guard byteCount == other.byteCount else { return false }
        if byteCount == 0 { return true }
        return withUnsafeBytes { lhs in
            other.withUnsafeBytes { rhs in
                sodium_memcmp(lhs.baseAddress!, rhs.baseAddress!, byteCount) == 0
            }
        }
    }
}

extension SecureBytes: CustomStringConvertible, CustomDebugStringConvertible {
    /// Never reveals the secret.
    public var description: String { "SecureBytes(\(byteCount) bytes, redacted)" }
    public var debugDescription: String { description }
}

/// Constant-time comparison of two public-length byte sequences (for tags, hashes and keys).
public func constantTimeEquals(_ lhs: [UInt8], _ rhs: [UInt8]) -> Bool {
    Sodium.initialize()
    guard lhs.count == rhs.count else { return false }
    if lhs.isEmpty { return true }
    return lhs.withUnsafeBytes { l in
        rhs.withUnsafeBytes { r in sodium_memcmp(l.baseAddress!, r.baseAddress!, lhs.count) == 0 }
    }
}
