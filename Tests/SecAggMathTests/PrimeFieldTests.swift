import Testing

@testable import SecAggMath

@Suite struct PrimeFieldTests {
    let p = PrimeField.prime

    /// Reference reduction through a full-width division.
    func referenceProduct(_ a: UInt64, _ b: UInt64) -> UInt64 {
        p.dividingFullWidth(a.multipliedFullWidth(by: b)).remainder
    }

    @Test func primeIsMersenne61() {
        #expect(p == 2_305_843_009_213_693_951)
        #expect(Shamir.prime == p)
    }

    @Test func multiplicationMatchesFullWidthDivision() {
        let edges: [UInt64] = [0, 1, 2, p - 1, p - 2, 1 << 60, (1 << 60) - 1, 1 << 32, UInt64(UInt32.max)]
        for a in edges {
            for b in edges { #expect(PrimeField.multiply(a, b) == referenceProduct(a, b)) }
        }
        var random = SeededRandom(seed: 1)
        for _ in 0..<10_000 {
            let a = random.nextWord() % p
            let b = random.nextWord() % p
            #expect(PrimeField.multiply(a, b) == referenceProduct(a, b))
        }
    }

    @Test func additionAndSubtractionWrap() {
        #expect(PrimeField.add(p - 1, 1) == 0)
        #expect(PrimeField.add(p - 1, p - 1) == p - 2)
        #expect(PrimeField.subtract(0, 1) == p - 1)
        #expect(PrimeField.subtract(5, 5) == 0)
        #expect(PrimeField.negate(0) == 0)
        #expect(PrimeField.add(PrimeField.negate(12_345), 12_345) == 0)
    }

    @Test func inverseAndBatchInverse() {
        var random = SeededRandom(seed: 2)
        var values = (0..<100).map { _ in random.nextWord() % (p - 1) + 1 }
        values.append(1)
        values.append(p - 1)
        let original = values
        PrimeField.invertAll(&values)
        for (value, inverse) in zip(original, values) {
            #expect(PrimeField.multiply(value, inverse) == 1)
            #expect(PrimeField.inverse(value) == inverse)
        }
    }
}
