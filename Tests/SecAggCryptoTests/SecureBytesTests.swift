import SecAggCrypto
import Testing

@Suite("SecureBytes")
struct SecureBytesTests {
    @Test("Constant-time equality compares contents and lengths")
    func constantTimeEquality() {
        let a = SecureBytes(copying: [1, 2, 3, 4])
        let same = SecureBytes(copying: [1, 2, 3, 4])
        let differentLastByte = SecureBytes(copying: [1, 2, 3, 5])
        let shorter = SecureBytes(copying: [1, 2, 3])
        #expect(a.constantTimeEquals(same))
        #expect(!a.constantTimeEquals(differentLastByte))
        #expect(!a.constantTimeEquals(shorter))
        #expect(SecureBytes(copying: []).constantTimeEquals(SecureBytes(copying: [])))
    }

    @Test("The free constantTimeEquals compares arrays")
    func freeConstantTimeEquals() {
        #expect(constantTimeEquals([9, 8, 7], [9, 8, 7]))
        #expect(!constantTimeEquals([9, 8, 7], [9, 8, 6]))
        #expect(!constantTimeEquals([9, 8, 7], [9, 8]))
        #expect(constantTimeEquals([], []))
    }

    @Test("Descriptions never reveal the secret")
    func redactedDescription() {
        let secret = SecureBytes(copying: hex("deadbeefcafebabe"))
        for text in [secret.description, secret.debugDescription, "\(secret)", String(reflecting: secret)] {
            #expect(text.contains("redacted"))
            #expect(!text.lowercased().contains("dead"))
        }
        #expect(secret.description == "SecureBytes(8 bytes, redacted)")
    }

    @Test("Initialisers copy, draw and fill the expected bytes")
    func initialisers() {
        var random = CountingRandom(next: 10)
        let drawn = SecureBytes(randomCount: 4, using: &random)
        #expect(drawn.unsafeCopyToArray() == [10, 11, 12, 13])
        let filled = SecureBytes(count: 3) { buffer in
            for index in buffer.indices { buffer[index] = UInt8(index * 2) }
        }
        #expect(filled.unsafeCopyToArray() == [0, 2, 4])
        #expect(filled.count == 3)
        #expect(SecureBytes(copying: [5, 6]).unsafeCopyToArray() == [5, 6])
    }

    @Test("Secret-holding types print redacted descriptions")
    func keyDescriptionsAreRedacted() throws {
        var random = CountingRandom(next: 0xa0)
        let symmetric = SymmetricKey(using: &random)
        #expect(symmetric.description == "SymmetricKey(redacted)")
        let signing = Ed25519.SigningKey(using: &random)
        #expect(!"\(signing)".contains(hexDigits(signing.seed.unsafeCopyToArray())))
        let agreement = X25519.PrivateKey(using: &random)
        #expect(!"\(agreement)".contains(hexDigits(agreement.rawRepresentation.unsafeCopyToArray())))
        let secret = try agreement.sharedSecret(with: agreement.publicKey)
        #expect(secret.description == "SharedSecret(redacted)")
    }

    private func hexDigits(_ bytes: [UInt8]) -> String {
        bytes.map { byte in
            let digits = String(byte, radix: 16)
            return digits.count == 1 ? "0" + digits : digits
        }.joined()
    }
}
