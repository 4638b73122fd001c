import SecAggCrypto
import Testing

@testable import SecAggNoise

@Suite("Noise building blocks")
struct NoisePrimitiveTests {
    @Test("HMAC-BLAKE2b matches RFC 2104 HMAC with BLAKE2b-512 (Python hmac + hashlib.blake2b)")
    func hmac() {
        let cases: [([UInt8], [UInt8], String)] = [
            (
                Array(0..<64), Array("Noise HMAC-BLAKE2b".utf8),
                "e62c8b52a29c84d98a936621784cf6fee52b425ff60d6051d336e506c5d46399"
                    + "cac1594bde782eb8309af164092508460c87f1a7289826a7f706b000f4f0f700"
            ),
            (
                [UInt8](repeating: 0xaa, count: 20), [],
                "ff751fd4bb80f354e464abc0ec8ca67da777148732ca01ef490ceb98aef65852"
                    + "c63c8afeb00179c88d93ad7b5a9f59c4f20ef6b349770ea727f6ac70a70db75c"
            ),
        ]
        for (key, data, expected) in cases {
            let mac = NoiseHash.hmac(key: SecureBytes(copying: key), dataCount: data.count) { buffer in
                buffer.copyBytes(from: data)
            }
            #expect(mac.unsafeCopyToArray() == hex(expected))
        }
    }

    @Test("Blake2b.hash(secret:) equals the public-input hash")
    func secretHash() {
        let data: [UInt8] = Array(0..<200).map { UInt8($0) }
        for outputByteCount in [16, 32, 64] {
            let secret = Blake2b.hash(secret: SecureBytes(copying: data), outputByteCount: outputByteCount)
            #expect(secret.unsafeCopyToArray() == Blake2b.hash(data, outputByteCount: outputByteCount))
        }
        #expect(Blake2b.hash(secret: SecureBytes(copying: []), outputByteCount: 64).unsafeCopyToArray() == Blake2b.hash([], outputByteCount: 64))
    }

    @Test("ChaChaPoly nonces are 4 zero bytes then the counter little-endian")
    func nonceEncoding() {
        #expect(CipherState.nonceBytes(0) == [UInt8](repeating: 0, count: 12))
        #expect(CipherState.nonceBytes(0x0102_0304_0506_0708) == [0, 0, 0, 0, 8, 7, 6, 5, 4, 3, 2, 1])
        #expect(CipherState.nonceBytes(.max) == [0, 0, 0, 0] + [UInt8](repeating: 0xff, count: 8))
    }

    @Test("REKEY is the first 32 bytes of ENCRYPT(k, 2^64 − 1, empty, zeros)")
    func rekeyDefinition() throws {
        var random = SystemRandom()
        let key = SymmetricKey(using: &random)
        let expected = try ChaChaPoly.seal(
            SecureBytes(copying: [UInt8](repeating: 0, count: 32)), using: key,
            nonce: CipherState.nonceBytes(.max), authenticating: [])
        var state = CipherState(key: key)
        state.setNonce(5)
        state.rekey()
        #expect(state.key?.bytes.unsafeCopyToArray() == Array(expected.prefix(32)))
        #expect(state.nonce == 5)
        var empty = CipherState()
        empty.rekey()
        #expect(!empty.hasKey)
    }

    @Test("a cipher state without a key passes data through")
    func emptyCipherState() throws {
        var state = CipherState()
        #expect(try state.encrypt(associatedData: [1], plaintext: SecureBytes(copying: [9, 8])) == [9, 8])
        #expect(try state.decrypt(associatedData: [1], ciphertext: [9, 8]).unsafeCopyToArray() == [9, 8])
        #expect(state.nonce == 0)
    }

    @Test("InitializeSymmetric pads short names and hashes long ones")
    func initializeSymmetric() {
        let short = "Noise_XX_25519_ChaChaPoly_BLAKE2b"
        #expect(SymmetricState(protocolName: short).handshakeHash == Array(short.utf8) + [UInt8](repeating: 0, count: 31))
        let long = String(repeating: "N", count: 65)
        #expect(SymmetricState(protocolName: long).handshakeHash == Blake2b.hash(Array(long.utf8), outputByteCount: 64))
        let exact = String(repeating: "N", count: 64)
        #expect(SymmetricState(protocolName: exact).handshakeHash == Array(exact.utf8))
    }

    @Test("protocol names")
    func protocolNames() {
        #expect(NoiseProtocolName.xx.description == "Noise_XX_25519_ChaChaPoly_BLAKE2b")
        #expect(NoiseProtocolName(pattern: .ik).description == "Noise_IK_25519_ChaChaPoly_BLAKE2b")
        #expect(NoiseProtocolName(pattern: .nn).description == "Noise_NN_25519_ChaChaPoly_BLAKE2b")
        for pattern in NoisePattern.all {
            #expect(NoiseProtocolName(NoiseProtocolName(pattern: pattern).description)?.pattern == pattern)
        }
        #expect(NoiseProtocolName("Noise_XXpsk3_25519_ChaChaPoly_BLAKE2b") == nil)
        #expect(NoiseProtocolName("Noise_XX_25519_AESGCM_SHA256") == nil)
        #expect(NoiseProtocolName("noise_xx_25519_chachapoly_blake2b") == nil)
    }

    @Test("pattern token lists (Noise §7.4, §7.5)")
    func patterns() {
        #expect(NoisePattern.xx.messages == [[.e], [.e, .ee, .s, .es], [.s, .se]])
        #expect(NoisePattern.xx.initiatorPreMessage.isEmpty && NoisePattern.xx.responderPreMessage.isEmpty)
        #expect(NoisePattern.ik.responderPreMessage == [.s] && NoisePattern.ik.initiatorPreMessage.isEmpty)
        #expect(NoisePattern.ik.messages == [[.e, .es, .s, .ss], [.e, .ee, .se]])
        #expect(NoisePattern.nn.messages == [[.e], [.e, .ee]])
    }
}
