// Fuzzes every canonical decoder of network messages (SPEC §4, and the cohort release of FEDERATION.md §2). The first input byte picks the type; the rest is
// decoded. Properties: decoding never traps, and whatever decodes re-encodes to exactly the input (the encoding is
// canonical: one value, one byte string), so signatures over re-encoded messages cannot be confused.
import SecAggFederation
import SecAggWire

private func check<T: WireEncodable & WireDecodable>(_ type: T.Type, _ bytes: [UInt8]) {
    guard let value = try? T(decoding: bytes) else { return }
    let again = value.encoded
    if again != bytes {
        fatalError("\(T.self) decoded from \(bytes.count) bytes re-encodes to \(again.count) different bytes")
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 0 else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    switch data[0] % 18 {
    case 0: check(CoordinatorMessage.self, bytes)
    case 1: check(ClientMessage.self, bytes)
    case 2: check(JoinRequest.self, bytes)
    case 3: check(JoinResponse.self, bytes)
    case 4: check(RoundParameters.self, bytes)
    case 5: check(KeyAdvertisement.self, bytes)
    case 6: check(EncryptedShare.self, bytes)
    case 7: check(ShareBundle.self, bytes)
    case 8: check(RevealedShare.self, bytes)
    case 9: check(ConsistencySignature.self, bytes)
    case 10: check(RoundID.self, bytes)
    case 11: check(AdminRequest.self, bytes)
    case 12: check(AdminResponse.self, bytes)
    case 13: check(OutcomeQuery.self, bytes)
    case 14: check(OutcomeReceipt.self, bytes)
    case 15: check(DropNotice.self, bytes)
    case 16:
        // A shard's cohort release as the root receives it (FEDERATION.md §2): parsing never traps, and what parses
        // (signature included) is exactly the input.
        if let release = try? SignedCohortRelease(decoding: bytes, maximumDimension: 1 << 16), release.encoded != bytes {
            fatalError("a cohort release decoded from \(bytes.count) bytes re-encodes differently")
        }
    default:
        // Both directions at once: a byte string is at most one of the two message kinds' valid encodings.
        check(CoordinatorMessage.self, bytes)
        check(ClientMessage.self, bytes)
    }
    return 0
}
