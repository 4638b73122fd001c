import CSodium

/// Key derivation: keyed BLAKE2b over a length-prefixed label and a context.
///
/// `out = BLAKE2b(key: inputKey, message: UInt8(label.utf8.count) ‖ label.utf8 ‖ context, outlen: outputByteCount)`
/// (`crypto_generichash` with a key). The length byte makes the split between label and context unambiguous,
/// so `("ab", "c")` and `("a", "bc")` derive unrelated keys. Labels are the protocol's domain separators
/// (one per purpose, listed in the spec); the context binds the session id and the parties involved.
public enum KDF {
    /// Derives `outputByteCount` secret bytes from `inputKey` for the purpose named by `label`.
    ///
    /// - Precondition: `inputKey` has 16...64 bytes, `outputByteCount` is in 16...64, and `label` is 1...255
    ///   bytes of ASCII. These are programmer-chosen constants, so a violation is a bug, not an input error.
    public static func derive(
        label: String, from inputKey: SecureBytes, context: [UInt8], outputByteCount: Int
    ) -> SecureBytes {
        let labelBytes = Array(label.utf8)
        precondition((1...255).contains(labelBytes.count), "KDF label must have 1...255 bytes")
        precondition(labelBytes.allSatisfy { $0 < 0x80 }, "KDF label must be ASCII")
        precondition(
            (Int(crypto_generichash_KEYBYTES_MIN)...Int(crypto_generichash_KEYBYTES_MAX)).contains(inputKey.count),
            "KDF input key must have 16...64 bytes")
        precondition(
            (Int(crypto_generichash_BYTES_MIN)...Int(crypto_generichash_BYTES_MAX)).contains(outputByteCount),
            "KDF output must have 16...64 bytes")
        Sodium.initialize()
        let message = [UInt8(labelBytes.count)] + labelBytes + context
        return SecureBytes(count: outputByteCount) { output in
            inputKey.withUnsafeBytes { key in
                // Never fails with the lengths checked above.
                _ = crypto_generichash(
                    output.mutableBytePointer, output.count,
                    message, UInt64(message.count),
                    key.bytePointer, key.count)
            }
        }
    }

    /// Derives a 32-byte ``SymmetricKey``; see ``derive(label:from:context:outputByteCount:)``.
    ///
    /// - Precondition: as for ``derive(label:from:context:outputByteCount:)``.
    public static func deriveKey(label: String, from inputKey: SecureBytes, context: [UInt8]) -> SymmetricKey {
        SymmetricKey(
            validBytes: derive(
                label: label, from: inputKey, context: context, outputByteCount: SymmetricKey.byteCount))
    }
}
