import CSodium

/// BLAKE2b (RFC 7693) via libsodium's `crypto_generichash`: session ids, transcript hashes, Noise's hash.
public enum Blake2b {
    /// Smallest supported digest size in bytes.
    public static let minimumOutputByteCount = Int(crypto_generichash_BYTES_MIN)

    /// Largest supported digest size in bytes.
    public static let maximumOutputByteCount = Int(crypto_generichash_BYTES_MAX)

    /// Unkeyed BLAKE2b of `data` with an `outputByteCount`-byte digest.
    ///
    /// - Precondition: `outputByteCount` is in 16...64.
    public static func hash(_ data: [UInt8], outputByteCount: Int = 32) -> [UInt8] {
        checkOutputByteCount(outputByteCount)
        Sodium.initialize()
        var digest = [UInt8](repeating: 0, count: outputByteCount)
        // Never fails with a valid output size and no key.
        _ = crypto_generichash(&digest, outputByteCount, data, UInt64(data.count), nil, 0)
        return digest
    }

    static func checkOutputByteCount(_ outputByteCount: Int) {
        precondition(
            (minimumOutputByteCount...maximumOutputByteCount).contains(outputByteCount),
            "BLAKE2b output must have 16...64 bytes")
    }

    /// Incremental unkeyed BLAKE2b, for inputs that arrive in pieces or are too large to concatenate.
    ///
    /// A value type: copying a hasher forks the computation (the state is copied on the next write).
    /// Feeding the same bytes in any split gives ``Blake2b/hash(_:outputByteCount:)`` of their concatenation.
    public struct Hasher {
        private var state: State
        private var isFinalized = false

        /// Starts a hash with an `outputByteCount`-byte digest.
        ///
        /// - Precondition: `outputByteCount` is in 16...64.
        public init(outputByteCount: Int = 32) {
            Blake2b.checkOutputByteCount(outputByteCount)
            state = State(outputByteCount: outputByteCount)
        }

        /// Absorbs `data`.
        ///
        /// - Precondition: ``finalize()`` has not been called.
        public mutating func update(_ data: [UInt8]) {
            data.withUnsafeBytes { update($0) }
        }

        /// Absorbs the bytes in `data` without copying them.
        ///
        /// - Precondition: ``finalize()`` has not been called.
        public mutating func update(_ data: UnsafeRawBufferPointer) {
            precondition(!isFinalized, "Blake2b.Hasher used after finalize()")
            guard let base = data.baseAddress, !data.isEmpty else { return }
            if !isKnownUniquelyReferenced(&state) {
                state = state.copy()
            }
            // Never fails on an initialised, unfinalised state.
            _ = crypto_generichash_update(state.pointer, base.assumingMemoryBound(to: UInt8.self), UInt64(data.count))
        }

        /// Returns the digest. The hasher cannot be used afterwards.
        ///
        /// - Precondition: ``finalize()`` has not been called before.
        public mutating func finalize() -> [UInt8] {
            precondition(!isFinalized, "Blake2b.Hasher finalized twice")
            if !isKnownUniquelyReferenced(&state) {
                state = state.copy()
            }
            isFinalized = true
            var digest = [UInt8](repeating: 0, count: state.outputByteCount)
            // Never fails on an initialised, unfinalised state with its own output size.
            _ = crypto_generichash_final(state.pointer, &digest, digest.count)
            return digest
        }

        /// libsodium's `crypto_generichash_state` in its own 64-byte-aligned allocation (the C type asks for
        /// that alignment and Swift imports it only as an opaque pointer), zeroed on release.
        private final class State {
            let pointer: OpaquePointer
            let outputByteCount: Int
            private let raw: UnsafeMutableRawPointer

            private static let byteCount = crypto_generichash_statebytes()

            init(outputByteCount: Int) {
                Sodium.initialize()
                self.outputByteCount = outputByteCount
                raw = State.allocate()
                pointer = OpaquePointer(raw)
                // Never fails with a valid output size and no key.
                _ = crypto_generichash_init(pointer, nil, 0, outputByteCount)
            }

            private init(copying other: State) {
                outputByteCount = other.outputByteCount
                raw = State.allocate()
                pointer = OpaquePointer(raw)
                raw.copyMemory(from: other.raw, byteCount: State.byteCount)
            }

            func copy() -> State {
                State(copying: self)
            }

            private static func allocate() -> UnsafeMutableRawPointer {
                let raw = UnsafeMutableRawPointer.allocate(byteCount: byteCount, alignment: 64)
                raw.initializeMemory(as: UInt8.self, repeating: 0, count: byteCount)
                return raw
            }

            deinit {
                sodium_memzero(raw, State.byteCount)
                raw.deallocate()
            }
        }
    }
}
