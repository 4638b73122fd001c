import SecAggCrypto
import SecAggFederation
import SecAggMath
import SecAggWire

extension CohortRelease {
    /// The cohort release of a completed round of this coordinator (protocol/FEDERATION.md §2): its parameters decide
    /// the lift (centred for a noisy or real-encoded sum, unsigned for plain integers), the encoding and the noise.
    ///
    /// - Throws: ``VectorError`` if `sum` does not fit the round's bits.
    init(
        coordinator: Ed25519.VerifyingKey, globalRound: GlobalRoundID, roundID: RoundID, parameters: RoundParameters,
        encoder: RealVectorEncoding?, survivors: Int, sum: [UInt64]
    ) throws {
        let noise: Noise
        switch parameters.noise {
        case .none: noise = .none
        case let .central(variance):
            noise = Noise(kind: .central, varianceNumerator: variance.numerator, varianceDenominator: variance.denominator)
        case let .distributed(variance):
            noise = Noise(kind: .distributed, varianceNumerator: variance.numerator, varianceDenominator: variance.denominator)
        }
        self.init(
            shard: coordinator, globalRound: globalRound, taskName: parameters.taskName, roundID: roundID,
            lift: noise.kind == .none && encoder == nil ? .unsigned : .signed,
            encoding: encoder?.canonicalDescription ?? "integer", survivors: UInt32(clamping: survivors), noise: noise,
            sum: try ModularVector(values: sum, bits: Int(parameters.bits)))
    }
}

extension TaskConfiguration {
    /// What a root expects of this task's cohort releases in `globalRound` from `shards` (FEDERATION.md §3): the
    /// lift and encoding follow the same rule as the release a shard signs (centred with noise or a real encoder).
    public func cohortExpectation(
        globalRound: GlobalRoundID, shards: [String: Ed25519.VerifyingKey]
    ) -> GlobalRoundExpectation {
        GlobalRoundExpectation(
            globalRound: globalRound, taskName: name, dimension: dimension, bits: bits,
            lift: privacy == nil && encoder == nil ? .unsigned : .signed,
            encoding: encoder?.canonicalDescription ?? "integer",
            shiftPerSurvivor: encoder.flatMap { encoding in (try? encoding.encoder(bits: bits)).map(encoding.shift(of:)) } ?? 0,
            shards: shards)
    }
}
