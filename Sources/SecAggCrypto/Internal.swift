/// Small helpers shared by the libsodium wrappers. Nothing here is public.

extension UnsafeRawBufferPointer {
    /// The start of the buffer typed as bytes, as libsodium's `const unsigned char *` parameters want it.
    ///
    /// - Precondition: the buffer has a base address (every buffer the wrappers pass here is non-empty or
    ///   comes from ``SecureBytes``, which always allocates).
    var bytePointer: UnsafePointer<UInt8> {
        guard let base = baseAddress else {
            preconditionFailure("libsodium wrapper received a buffer without storage")
        }
        return base.assumingMemoryBound(to: UInt8.self)
    }
}

extension UnsafeMutableRawBufferPointer {
    /// The start of the buffer typed as bytes, as libsodium's `unsigned char *` parameters want it.
    ///
    /// - Precondition: the buffer has a base address.
    var mutableBytePointer: UnsafeMutablePointer<UInt8> {
        guard let base = baseAddress else {
            preconditionFailure("libsodium wrapper received a buffer without storage")
        }
        return base.assumingMemoryBound(to: UInt8.self)
    }
}

/// Lowercase hexadecimal of `bytes`, for descriptions of public values.
func hexString(_ bytes: [UInt8]) -> String {
    let digits = Array("0123456789abcdef".utf8)
    var characters = [UInt8]()
    characters.reserveCapacity(bytes.count * 2)
    for byte in bytes {
        characters.append(digits[Int(byte >> 4)])
        characters.append(digits[Int(byte & 0x0f)])
    }
    return String(decoding: characters, as: UTF8.self)
}
