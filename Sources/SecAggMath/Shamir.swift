import SecAggCrypto

/// One participant's Shamir share of a secret: the evaluations, at `x`, of one random polynomial per chunk.
///
/// A share is what a client encrypts for a neighbour in ShareKeys and what that neighbour reveals in Unmasking.
/// Fewer than `threshold` shares reveal nothing about the secret
/// (see ``Shamir/split(_:threshold:xCoordinates:using:)``), but a full set does, so shares are only ever sent inside
/// AEAD ciphertexts and their description is redacted.
public struct ShamirShare: Sendable, Hashable, CustomStringConvertible {
    /// The evaluation point: the holder's 1-based participant index. Never 0, the secret's point.
    public let x: UInt32

    /// One field element (below ``Shamir/prime``) per 7-byte chunk of the secret.
    public let values: [UInt64]

    /// Decodes a share from its wire form: `values` as consecutive 8-byte little-endian field elements.
    ///
    /// Decoding is strict so that a malformed share is rejected where it arrives rather than silently folded into
    /// a reconstruction.
    ///
    /// - Throws: ``ShamirError/invalidCoordinate(_:)`` if `x` is 0; ``ShamirError/malformedShare(x:reason:)`` if the
    ///   length is not a multiple of 8 or an element is not below ``Shamir/prime``.
    public init(x: UInt32, encoded: [UInt8]) throws(ShamirError) {
        guard x != 0 else { throw .invalidCoordinate(x) }
        guard encoded.count % 8 == 0 else {
            throw .malformedShare(x: x, reason: "length \(encoded.count) is not a multiple of 8")
        }
        var values = [UInt64]()
        values.reserveCapacity(encoded.count / 8)
        var offendingIndex: Int?
        encoded.withUnsafeBytes { raw in
            for index in 0..<(raw.count / 8) {
                let value = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: index * 8, as: UInt64.self))
                if value >= Shamir.prime, offendingIndex == nil { offendingIndex = index }
                values.append(value)
            }
        }
        if let offendingIndex {
            throw .malformedShare(x: x, reason: "element \(offendingIndex) is not below the field prime")
        }
        self.x = x
        self.values = values
    }

    /// Wraps values produced by this module (canonical by construction).
    init(x: UInt32, values: [UInt64]) {
        self.x = x
        self.values = values
    }

    /// The wire form: each element of `values` as 8 little-endian bytes.
    public var encoded: [UInt8] {
        var bytes = [UInt8](repeating: 0, count: values.count * 8)
        bytes.withUnsafeMutableBytes { raw in
            for (index, value) in values.enumerated() {
                raw.storeBytes(of: value.littleEndian, toByteOffset: index * 8, as: UInt64.self)
            }
        }
        return bytes
    }

    /// Shows the coordinate and size only; the values stay out of logs.
    public var description: String { "ShamirShare(x: \(x), \(values.count) elements, redacted)" }
}

/// Why Shamir sharing or reconstruction refused its input.
public enum ShamirError: Error, Equatable, Sendable {
    /// The threshold is below 1, or (when splitting) above the number of shares to produce.
    case invalidThreshold(threshold: Int, shareCount: Int)
    /// An x-coordinate is 0, the point that holds the secret.
    case invalidCoordinate(UInt32)
    /// Two shares, or two requested coordinates, have the same x.
    case duplicateCoordinate(UInt32)
    /// A share does not decode, or holds a different number of elements than the secret length needs.
    case malformedShare(x: UInt32, reason: String)
    /// Fewer shares than the threshold were supplied.
    case insufficientShares(available: Int, required: Int)
    /// The shares do not describe one secret of the expected length: the listed shares lie off the polynomial
    /// defined by the first `threshold` shares, or (when they are those first shares themselves) interpolate to a
    /// chunk too wide for the secret length.
    case inconsistentShares(xs: [UInt32])
    /// No subset of the shares reconstructed a secret that the caller's validity check accepted.
    case reconstructionFailed
}

/// Shamir t-of-n secret sharing over GF(2^61 − 1), as used for the self-mask seeds and mask private keys.
///
/// Encoding (normative, see the protocol spec "Shamir encoding"): the secret is cut into 7-byte little-endian
/// chunks (the last may be shorter); chunk c is the constant term of its own polynomial, so a share holds
/// ``elementCount(forSecretByteCount:)`` field elements. Seven bytes keep every chunk below 2^56 < p, so
/// reconstruction can check that each chunk fits its width: a wrong share almost surely produces a chunk that
/// does not, and is detected even without spare shares.
///
/// The field has room for 2^32 − 1 distinct nonzero `UInt32` coordinates, so any neighbour count the coordinator
/// allows works; the cost of splitting is O(n · t) multiplications per chunk and of reconstruction O(t²).
public enum Shamir {
    /// The field modulus p = 2^61 − 1.
    public static let prime: UInt64 = (1 << 61) - 1

    /// Bytes of secret per field element.
    public static let chunkByteCount = 7

    /// The number of field elements in a share of an `n`-byte secret: ⌈n / 7⌉.
    public static func elementCount(forSecretByteCount n: Int) -> Int {
        (n + chunkByteCount - 1) / chunkByteCount
    }

    /// Splits `secret` into shares for `xCoordinates`, any `threshold` of which reconstruct it.
    ///
    /// Chunk c of the secret (bytes 7c..<7c+7, little-endian) becomes a_{c,0}, the constant term of the polynomial
    /// f_c(x) = a_{c,0} + a_{c,1} x + … + a_{c,t−1} x^{t−1}, whose other coefficients are drawn uniformly from GF(p):
    /// 8 bytes from `random` read as a little-endian `UInt64`, masked to 61 bits, redrawn while the result equals p.
    /// Coefficients are drawn chunk by chunk, a_{c,1} first, so a seeded source reproduces the shares exactly.
    /// The share for x holds f_0(x), f_1(x), …; the coefficients live in zeroed-on-release memory.
    ///
    /// Why t − 1 shares reveal nothing: fix any t − 1 distinct nonzero points x_1…x_{t−1} and any candidate secret
    /// s. The map from (a_1, …, a_{t−1}) to (f(x_1), …, f(x_{t−1})) with a_0 = s is affine with a Vandermonde-type
    /// matrix [x_i^j] (j = 1…t−1), which is invertible because the x_i are distinct and nonzero. So for every s the
    /// uniform coefficients make the t − 1 share values exactly uniform on GF(p)^{t−1}: their distribution is the
    /// same whatever the secret, and every secret is consistent with any observed t − 1 shares through exactly one
    /// polynomial. Uniformity of the coefficients (hence the exact rejection sampling) is what this rests on.
    ///
    /// - Parameters:
    ///   - secret: The bytes to share (any length; a 32-byte key gives 5 elements per share).
    ///   - threshold: t, the number of shares needed to reconstruct; 1 ≤ t ≤ `xCoordinates.count`.
    ///   - xCoordinates: The holders' distinct, nonzero participant indices, in the order of the returned shares.
    ///   - random: The source of the polynomial coefficients; must be a CSPRNG outside tests.
    /// - Throws: ``ShamirError/invalidThreshold(threshold:shareCount:)``, ``ShamirError/invalidCoordinate(_:)`` or
    ///   ``ShamirError/duplicateCoordinate(_:)``.
    public static func split(
        _ secret: SecureBytes, threshold: Int, xCoordinates: [UInt32], using random: inout some RandomSource
    ) throws(ShamirError) -> [ShamirShare] {
        guard threshold >= 1, threshold <= xCoordinates.count else {
            throw .invalidThreshold(threshold: threshold, shareCount: xCoordinates.count)
        }
        try checkCoordinates(xCoordinates)

        let shareCount = xCoordinates.count
        let chunkCount = elementCount(forSecretByteCount: secret.count)
        // Share-major: element c of share i is at i * chunkCount + c.
        var evaluations = [UInt64](repeating: 0, count: shareCount * chunkCount)
        let points = xCoordinates.map(UInt64.init)

        // The coefficients of the current chunk's polynomial, in secure memory zeroed right after use.
        _ = SecureBytes(count: threshold * MemoryLayout<UInt64>.size) { raw in
            raw.withMemoryRebound(to: UInt64.self) { coefficients in
                secret.withUnsafeBytes { secretBytes in
                    evaluations.withUnsafeMutableBufferPointer { output in
                        for chunk in 0..<chunkCount {
                            coefficients[0] = readChunk(chunk, of: secretBytes)
                            for degree in 1..<threshold {
                                coefficients[degree] = uniformElement(using: &random)
                            }
                            for (share, point) in points.enumerated() {
                                output[share * chunkCount + chunk] = evaluate(coefficients, at: point)
                            }
                        }
                    }
                }
            }
        }

        return (0..<shareCount).map { share in
            let start = share * chunkCount
            return ShamirShare(x: xCoordinates[share], values: Array(evaluations[start..<(start + chunkCount)]))
        }
    }

    /// Reconstructs a `secretByteCount`-byte secret from `shares`, any `threshold` of which define it.
    ///
    /// The first `threshold` shares are interpolated at 0 (Lagrange coefficients computed once, reused for every
    /// chunk). Every further share must lie on the same polynomials, and every chunk must fit its width (below
    /// 2^56, or 2^(8·len) for a shorter last chunk); otherwise the shares are rejected rather than silently
    /// producing a wrong secret. Use ``robustCombine(_:threshold:secretByteCount:maxAttempts:isValid:)`` to work
    /// around bad shares instead of failing.
    ///
    /// - Throws: ``ShamirError/invalidThreshold(threshold:shareCount:)`` if `threshold < 1`;
    ///   ``ShamirError/insufficientShares(available:required:)``; ``ShamirError/invalidCoordinate(_:)`` or
    ///   ``ShamirError/duplicateCoordinate(_:)``; ``ShamirError/malformedShare(x:reason:)`` for a share with the
    ///   wrong number of elements; ``ShamirError/inconsistentShares(xs:)`` with the extra shares that lie off the
    ///   polynomial, or with the first `threshold` xs if they interpolate to an over-wide chunk.
    public static func combine(
        _ shares: [ShamirShare], threshold: Int, secretByteCount: Int
    ) throws(ShamirError) -> SecureBytes {
        precondition(secretByteCount >= 0, "Shamir.combine: negative secret length")
        guard threshold >= 1 else { throw .invalidThreshold(threshold: threshold, shareCount: shares.count) }
        guard shares.count >= threshold else {
            throw .insufficientShares(available: shares.count, required: threshold)
        }
        try checkCoordinates(shares.map(\.x))
        let chunkCount = elementCount(forSecretByteCount: secretByteCount)
        for share in shares where share.values.count != chunkCount {
            throw .malformedShare(x: share.x, reason: "\(share.values.count) elements, expected \(chunkCount)")
        }

        let basisShares = Array(shares[0..<threshold])
        let basis = LagrangeBasis(nodes: basisShares.map { UInt64($0.x) })
        guard let secret = interpolateSecret(basisShares, basis: basis, secretByteCount: secretByteCount) else {
            throw .inconsistentShares(xs: basisShares.map(\.x))
        }
        let offCurve = sharesOffPolynomial(shares[threshold...], basisShares: basisShares, basis: basis)
        guard offCurve.isEmpty else { throw .inconsistentShares(xs: offCurve) }
        return secret
    }

    /// Reconstructs despite bad shares: tries `threshold`-subsets in a fixed order until `isValid` accepts the
    /// secret, and names the holders whose shares are off the accepted polynomial.
    ///
    /// The coordinator calls this with an external check, e.g. that a reconstructed mask private key matches the
    /// public key its owner advertised, or that a seed matches a commitment. Subsets are tried in this order,
    /// at most `maxAttempts` of them (at least one):
    /// 1. the first `threshold` shares;
    /// 2. if there are at most `maxAttempts` subsets in all, every other subset in lexicographic index order;
    /// 3. otherwise the remaining disjoint blocks of `threshold` consecutive shares (so with e bad shares and more
    ///    than e full blocks, a clean block is among the first e + 1 attempts), then distinct subsets drawn from a
    ///    fixed-seed pseudo-random sequence (each attempt succeeds with probability C(n − e, t)/C(n, t)).
    ///
    /// A candidate whose chunks do not fit their widths is skipped without calling `isValid`, and `isValid` is not
    /// called again for a secret it already accepted. A valid secret alone does not prove the polynomial right:
    /// colluding holders can choose errors that cancel at 0 and would then frame honest holders. So a valid
    /// candidate is returned at once only if more than (n + t − 1)/2 of the n well-formed shares lie on it; two
    /// different polynomials of degree < t share at most t − 1 points, so no other polynomial can then be as well
    /// supported, and the attribution is exact whenever more than (n + t − 1)/2 shares are honest. Otherwise the
    /// search goes on and, when the attempts run out, returns the valid candidate with the most supporting shares.
    /// Shares with the wrong number of elements are never used and are reported as inconsistent, so one malformed
    /// share cannot block a reconstruction.
    ///
    /// - Returns: The accepted secret, and the ascending xs of every share not on its polynomial.
    /// - Throws: ``ShamirError/invalidThreshold(threshold:shareCount:)``, ``ShamirError/invalidCoordinate(_:)``,
    ///   ``ShamirError/duplicateCoordinate(_:)``, ``ShamirError/insufficientShares(available:required:)`` (counting
    ///   well-formed shares only), or ``ShamirError/reconstructionFailed`` if no attempt passes `isValid`.
    public static func robustCombine(
        _ shares: [ShamirShare], threshold: Int, secretByteCount: Int, maxAttempts: Int = 256,
        isValid: (SecureBytes) -> Bool
    ) throws(ShamirError) -> (secret: SecureBytes, inconsistent: [UInt32]) {
        precondition(secretByteCount >= 0, "Shamir.robustCombine: negative secret length")
        guard threshold >= 1 else { throw .invalidThreshold(threshold: threshold, shareCount: shares.count) }
        try checkCoordinates(shares.map(\.x))
        let chunkCount = elementCount(forSecretByteCount: secretByteCount)
        let candidates = shares.filter { $0.values.count == chunkCount }
        let malformed = shares.filter { $0.values.count != chunkCount }.map(\.x)
        guard candidates.count >= threshold else {
            throw .insufficientShares(available: candidates.count, required: threshold)
        }

        var best: (secret: SecureBytes, support: Int, offCurve: [UInt32])?
        var schedule = SubsetSchedule(count: candidates.count, size: threshold, maxAttempts: max(1, maxAttempts))
        while let subset = schedule.next() {
            let basisShares = subset.map { candidates[$0] }
            let basis = LagrangeBasis(nodes: basisShares.map { UInt64($0.x) })
            guard let secret = interpolateSecret(basisShares, basis: basis, secretByteCount: secretByteCount) else {
                continue
            }
            let alreadyAccepted = best.map { secret.constantTimeEquals($0.secret) } ?? false
            guard alreadyAccepted || isValid(secret) else { continue }

            var inSubset = [Bool](repeating: false, count: candidates.count)
            for index in subset { inSubset[index] = true }
            let others = candidates.indices.filter { !inSubset[$0] }.map { candidates[$0] }
            let offCurve = sharesOffPolynomial(others[...], basisShares: basisShares, basis: basis)
            let support = candidates.count - offCurve.count
            if 2 * support > candidates.count + threshold - 1 {
                return (secret, (offCurve + malformed).sorted())
            }
            if support > best?.support ?? 0 { best = (secret, support, offCurve) }
        }
        guard let best else { throw .reconstructionFailed }
        return (best.secret, (best.offCurve + malformed).sorted())
    }

    // MARK: - Internals

    /// Rejects a zero or repeated coordinate.
    static func checkCoordinates(_ xs: [UInt32]) throws(ShamirError) {
        var seen = Set<UInt32>(minimumCapacity: xs.count)
        for x in xs {
            guard x != 0 else { throw .invalidCoordinate(x) }
            guard seen.insert(x).inserted else { throw .duplicateCoordinate(x) }
        }
    }

    /// A uniform element of GF(p): 8 little-endian bytes masked to 61 bits, redrawn while equal to p.
    static func uniformElement(using random: inout some RandomSource) -> UInt64 {
        while true {
            let candidate = random.nextUInt64() & prime
            if candidate != prime { return candidate }
        }
    }

    /// Chunk `chunk` of `secret` as a little-endian integer (below 2^56).
    @inline(__always)
    private static func readChunk(_ chunk: Int, of secret: UnsafeRawBufferPointer) -> UInt64 {
        let start = chunk * chunkByteCount
        let end = min(start + chunkByteCount, secret.count)
        var value: UInt64 = 0
        for offset in stride(from: end - 1, through: start, by: -1) {
            value = (value << 8) | UInt64(secret[offset])
        }
        return value
    }

    /// Horner evaluation of the polynomial with `coefficients` (constant term first) at `point`.
    @inline(__always)
    private static func evaluate(_ coefficients: UnsafeMutableBufferPointer<UInt64>, at point: UInt64) -> UInt64 {
        var degree = coefficients.count - 1
        var accumulator = coefficients[degree]
        while degree > 0 {
            degree -= 1
            accumulator = PrimeField.add(PrimeField.multiply(accumulator, point), coefficients[degree])
        }
        return accumulator
    }

    /// Interpolates every chunk at 0 and writes the secret, or returns nil if some chunk is too wide for its bytes.
    static func interpolateSecret(
        _ basisShares: [ShamirShare], basis: LagrangeBasis, secretByteCount: Int
    ) -> SecureBytes? {
        let coefficients = basis.coefficients(at: 0)
        let chunkCount = elementCount(forSecretByteCount: secretByteCount)
        var fits = true
        let secret = SecureBytes(count: secretByteCount) { output in
            for chunk in 0..<chunkCount {
                var value: UInt64 = 0
                for (index, share) in basisShares.enumerated() {
                    value = PrimeField.add(value, PrimeField.multiply(coefficients[index], share.values[chunk]))
                }
                let start = chunk * chunkByteCount
                let width = min(chunkByteCount, secretByteCount - start)
                if value >> UInt64(8 * width) != 0 { fits = false }
                for offset in 0..<width {
                    output[start + offset] = UInt8(truncatingIfNeeded: value >> UInt64(8 * offset))
                }
            }
        }
        return fits ? secret : nil
    }

    /// The xs of the shares in `others` that differ, in any chunk, from the polynomials through `basisShares`.
    static func sharesOffPolynomial(
        _ others: ArraySlice<ShamirShare>, basisShares: [ShamirShare], basis: LagrangeBasis
    ) -> [UInt32] {
        var offCurve = [UInt32]()
        for share in others {
            let coefficients = basis.coefficients(at: UInt64(share.x))
            for chunk in share.values.indices {
                var expected: UInt64 = 0
                for (index, basisShare) in basisShares.enumerated() {
                    expected = PrimeField.add(
                        expected, PrimeField.multiply(coefficients[index], basisShare.values[chunk]))
                }
                if expected != share.values[chunk] {
                    offCurve.append(share.x)
                    break
                }
            }
        }
        return offCurve
    }
}

/// The deterministic order in which ``Shamir/robustCombine(_:threshold:secretByteCount:maxAttempts:isValid:)``
/// tries subsets of `count` shares of size `size` (indices ascending within a subset).
struct SubsetSchedule {
    private let count: Int
    private let size: Int
    private let maxAttempts: Int
    private let exhaustive: Bool
    private var attempts = 0
    private var current: [Int]?
    private var nextBlock = 1
    private var tried = Set<[Int]>()
    private var generator = SplitMix64(seed: 0x5EC_A66_5EED)

    init(count: Int, size: Int, maxAttempts: Int) {
        self.count = count
        self.size = size
        self.maxAttempts = maxAttempts
        self.exhaustive = !Self.binomial(count, size, exceeds: maxAttempts)
    }

    /// The next subset to try, or nil when the attempts are used up (or every subset has been tried).
    mutating func next() -> [Int]? {
        guard attempts < maxAttempts else { return nil }
        let subset: [Int]?
        if attempts == 0 {
            subset = Array(0..<size)
        } else if exhaustive {
            subset = current.flatMap { Self.lexicographicSuccessor(of: $0, count: count) }
        } else if (nextBlock + 1) * size <= count {
            subset = Array((nextBlock * size)..<((nextBlock + 1) * size))
            nextBlock += 1
        } else {
            subset = randomUntriedSubset()
        }
        guard let subset else { return nil }
        attempts += 1
        current = subset
        if !exhaustive { tried.insert(subset) }
        return subset
    }

    /// A pseudo-random subset not tried before, or nil after many collisions (when nearly all have been tried).
    private mutating func randomUntriedSubset() -> [Int]? {
        var indices = Array(0..<count)
        for _ in 0..<64 {
            for position in 0..<size {
                let pick = position + Int(generator.uniform(below: UInt64(count - position)))
                indices.swapAt(position, pick)
            }
            let subset = indices[0..<size].sorted()
            if !tried.contains(subset) { return subset }
        }
        return nil
    }

    /// The next `size`-combination of 0..<count after `subset` in lexicographic order, or nil after the last.
    private static func lexicographicSuccessor(of subset: [Int], count: Int) -> [Int]? {
        var next = subset
        let size = next.count
        var position = size - 1
        while position >= 0, next[position] == count - size + position { position -= 1 }
        guard position >= 0 else { return nil }
        next[position] += 1
        for later in (position + 1)..<size { next[later] = next[later - 1] + 1 }
        return next
    }

    /// Whether C(n, k) > limit, computed without overflow.
    private static func binomial(_ n: Int, _ k: Int, exceeds limit: Int) -> Bool {
        let k = min(k, n - k)
        var value = 1
        for step in 0..<k {
            let (product, overflow) = value.multipliedReportingOverflow(by: n - step)
            if overflow { return true }
            value = product / (step + 1)  // exact: the running value is C(n, step + 1)
            if value > limit { return true }
        }
        return value > limit
    }
}

/// SplitMix64 (Steele, Lea and Flood 2014): a tiny public, deterministic generator for orders that must be
/// reproducible, never for secrets.
struct SplitMix64: RandomSource {
    private var state: UInt64

    init(seed: UInt64) {
        state = seed
    }

    /// The next 64-bit output.
    mutating func nextWord() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func fill(_ buffer: UnsafeMutableRawBufferPointer) {
        var offset = 0
        while offset < buffer.count {
            let word = nextWord().littleEndian
            let take = min(8, buffer.count - offset)
            withUnsafeBytes(of: word) { bytes in
                for index in 0..<take { buffer[offset + index] = bytes[index] }
            }
            offset += take
        }
    }
}
