// SecAggNoise: the Noise Protocol Framework, revision 34 (noiseprotocol.org/noise.html), sans-IO.
//
// Suite: 25519, ChaChaPoly (IETF, nonce = 4 zero bytes ‖ 64-bit little-endian counter), BLAKE2b (BLAKE2b-512,
// HMAC per RFC 2104 with a 128-byte block, HKDF per §4.3). Patterns are data (`NoisePattern`: XX, IK, NN).
// secagg's TCP transport runs Noise_XX_25519_ChaChaPoly_BLAKE2b; framing is left to the caller.
//
//   NoisePattern / NoiseProtocolName / NoiseRole   patterns and names      (NoisePattern.swift)
//   NoiseHandshake                                 HandshakeState §5.3     (NoiseHandshake.swift)
//   NoiseTransport                                 the split cipher states (NoiseTransport.swift)
//   SymmetricState, NoiseHash                      §5.2, §4.3              (SymmetricState.swift, internal)
//   CipherState                                    §5.1                    (CipherState.swift, internal)
//   NoiseError                                     typed errors            (NoiseError.swift)
//
// All primitives come from SecAggCrypto, the only importer of libsodium.
