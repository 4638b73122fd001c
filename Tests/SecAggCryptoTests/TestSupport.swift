import SecAggCrypto

/// Decodes hexadecimal test vectors; whitespace and colons (as printed in the RFCs) are ignored.
func hex(_ text: String) -> [UInt8] {
    let digits = text.unicodeScalars.filter { !" \n\t:".unicodeScalars.contains($0) }.map(Character.init)
    precondition(digits.count.isMultiple(of: 2), "odd number of hex digits")
    var bytes = [UInt8]()
    bytes.reserveCapacity(digits.count / 2)
    var index = digits.startIndex
    while index < digits.endIndex {
        guard let byte = UInt8(String(digits[index...index + 1]), radix: 16) else {
            preconditionFailure("invalid hex digit in test vector")
        }
        bytes.append(byte)
        index += 2
    }
    return bytes
}

/// A reproducible byte stream 0, 1, 2, … (wrapping), for tests that need a `RandomSource`.
struct CountingRandom: RandomSource {
    var next: UInt8 = 0

    mutating func fill(_ buffer: UnsafeMutableRawBufferPointer) {
        for index in buffer.indices {
            buffer[index] = next
            next &+= 1
        }
    }
}

/// A symmetric key from hex (tests only).
func symmetricKey(_ text: String) throws -> SymmetricKey {
    try SymmetricKey(SecureBytes(copying: hex(text)))
}

/// Flips bit `bit` of byte `index`.
func flippingBit(_ bytes: [UInt8], at index: Int, bit: Int = 0) -> [UInt8] {
    var copy = bytes
    copy[index] ^= 1 << UInt8(bit)
    return copy
}

/// The RFC 8439 "sunscreen" plaintext (§2.4.2 and §2.8.2).
let sunscreen = Array(
    "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it."
        .utf8)
