import SecAggCrypto
import Testing

@testable import SecAggMath

/// A 32-byte key: `first`, `first + 1`, … (wrapping).
private func permutationSeed(_ first: UInt8) -> SymmetricKey {
    guard let key = try? SymmetricKey(SecureBytes(copying: (0..<32).map { first &+ UInt8($0) })) else {
        preconditionFailure("32 bytes make a key")
    }
    return key
}

@Suite struct IndexPermutationTests {
    /// The round table T_r of the definition, computed straight from the ChaCha20 keystream.
    static func roundTable(_ round: Int, seed: SymmetricKey, halfBits: Int) -> [UInt32] {
        let nonce = [UInt8(round + 1), 0, 0, 0] + [UInt8](repeating: 0, count: 8)
        let stream = ChaCha20.keystream(key: seed, nonce: nonce, counter: 0, count: 4 << halfBits)
        return (0..<(1 << halfBits)).map { index in
            let word = (0..<4).reduce(UInt32(0)) { $0 | UInt32(stream[4 * index + $1]) << (8 * UInt32($1)) }
            return word & ((1 << UInt32(halfBits)) - 1)
        }
    }

    /// One Feistel pass E, written out from the definition.
    static func feistel(_ x: Int, tables: [[UInt32]], halfBits: Int) -> Int {
        var left = UInt32(x >> halfBits)
        var right = UInt32(x) & ((1 << UInt32(halfBits)) - 1)
        for table in tables { (left, right) = (right, left ^ table[Int(right)]) }
        return Int(left << UInt32(halfBits) | right)
    }

    @Test func roundTableWordComesFromTheKeystream() throws {
        let seed = permutationSeed(0)
        // Word 0 of the keystream with nonce u32le(1) ‖ 0^8 (independently computed, pure-Python ChaCha20).
        let stream = ChaCha20.keystream(key: seed, nonce: [1] + [UInt8](repeating: 0, count: 11), counter: 0, count: 4)
        #expect(stream == [0xd8, 0x38, 0xfb, 0x09])
        #expect(Self.roundTable(0, seed: seed, halfBits: 2)[0] == 0x09fb_38d8 & 3)
    }

    @Test(arguments: [(16, 2), (1024, 5), (1 << 16, 8)])
    func onePassWithoutCycleWalkingMatchesTheDefinition(count: Int, halfBits: Int) throws {
        let seed = permutationSeed(0)
        let tables = (0..<8).map { Self.roundTable($0, seed: seed, halfBits: halfBits) }
        let permutation = try IndexPermutation(count: count, seed: seed)
        for x in stride(from: 0, to: count, by: max(1, count / 1024)) {
            #expect(permutation.apply(x) == Self.feistel(x, tables: tables, halfBits: halfBits))
        }
    }

    @Test func cycleWalkingMatchesTheDefinition() throws {
        let seed = permutationSeed(0x40)
        let count = 600  // b = 10: the Feistel domain is 0..<1024.
        let tables = (0..<8).map { Self.roundTable($0, seed: seed, halfBits: 5) }
        let permutation = try IndexPermutation(count: count, seed: seed)
        var walked = 0
        for x in 0..<count {
            var y = Self.feistel(x, tables: tables, halfBits: 5)
            if y >= count { walked += 1 }
            while y >= count { y = Self.feistel(y, tables: tables, halfBits: 5) }
            #expect(permutation.apply(x) == y)
        }
        #expect(walked > 0)
    }

    /// Values from an independent pure-Python implementation of the definition (seed 0x00, 0x01, …, 0x1f).
    @Test func knownAnswers() throws {
        let seed = permutationSeed(0)
        let sixteen = try IndexPermutation(count: 16, seed: seed)
        #expect((0..<16).map(sixteen.apply) == [5, 15, 1, 13, 8, 14, 4, 12, 3, 0, 6, 7, 10, 9, 11, 2])
        let thousand = try IndexPermutation(count: 1000, seed: seed)
        #expect((0..<10).map(thousand.apply) == [766, 329, 119, 739, 725, 310, 864, 490, 659, 46])
        #expect([500, 998, 999].map(thousand.apply) == [764, 135, 721])
        let five = try IndexPermutation(count: 5, seed: seed)
        #expect((0..<5).map(five.apply) == [4, 2, 1, 0, 3])
        #expect(try IndexPermutation(count: 1, seed: seed).apply(0) == 0)
    }

    @Test(arguments: [0, 0x55, 0xf0] as [UInt8])
    func isABijectionWithItsInverse(seedByte: UInt8) throws {
        let seed = permutationSeed(seedByte)
        for count in 1...300 {
            let permutation = try IndexPermutation(count: count, seed: seed)
            #expect(permutation.count == count)
            let images = (0..<count).map(permutation.apply)
            #expect(images.sorted() == Array(0..<count), "count \(count)")
            for x in 0..<count {
                #expect(permutation.invert(images[x]) == x)
                #expect(permutation.apply(permutation.invert(x)) == x)
            }
        }
    }

    @Test func largestDomain() throws {
        let permutation = try IndexPermutation(count: IndexPermutation.maximumCount, seed: permutationSeed(9))
        for x in [0, 1, 12_345, 1 << 29, IndexPermutation.maximumCount - 1] {
            let y = permutation.apply(x)
            #expect((0..<IndexPermutation.maximumCount).contains(y))
            #expect(permutation.invert(y) == x)
        }
    }

    @Test func rejectsCountsOutOfRange() {
        for count in [0, -1, IndexPermutation.maximumCount + 1, Int.max] {
            #expect(throws: PermutationError.invalidCount(count)) {
                try IndexPermutation(count: count, seed: permutationSeed(0))
            }
        }
    }

    @Test func sameSeedSamePermutationOtherSeedOtherPermutation() throws {
        let first = try IndexPermutation(count: 1000, seed: permutationSeed(1))
        let again = try IndexPermutation(count: 1000, seed: permutationSeed(1))
        let other = try IndexPermutation(count: 1000, seed: permutationSeed(2))
        let images = (0..<1000).map(first.apply)
        #expect(images == (0..<1000).map(again.apply))
        #expect(images != (0..<1000).map(other.apply))
        #expect(images != Array(0..<1000))
    }

    /// Over 64 seeds no point has a constant image (a uniform permutation makes that chance 1024^−63).
    @Test func noPointHasAConstantImage() throws {
        let permutations = try (0..<64).map { try IndexPermutation(count: 1024, seed: permutationSeed(UInt8($0 * 4))) }
        for x in 0..<1024 {
            #expect(Set(permutations.map { $0.apply(x) }).count > 1, "point \(x)")
        }
    }
}

@Suite struct NeighborGraphV2Tests {
    /// The v1 array-based graph on 1...n with the same ring labelling as `graph` (π⁻¹(p) + 1 at position p).
    static func reference(for graph: NeighborGraph, count: Int, seed: SymmetricKey) throws -> NeighborGraph {
        let permutation = try IndexPermutation(count: count, seed: seed)
        let ring = (0..<count).map { UInt32(permutation.invert($0) + 1) }
        return NeighborGraph(sortedParticipants: Array(1...UInt32(count)), ring: ring, kind: graph.kind)
    }

    @Test(arguments: 1...12)
    func matchesTheArrayConstructionOnTheSameRing(degree: Int) throws {
        for count in 2...80 {
            let seed = permutationSeed(UInt8(truncatingIfNeeded: count * 13 + degree))
            let graph = try NeighborGraph(invitedCount: count, kind: .harary(degree: degree), seed: seed)
            let reference = try Self.reference(for: graph, count: count, seed: seed)
            let permutation = try IndexPermutation(count: count, seed: seed)
            let everyone = (1...count).map(UInt32.init)
            #expect(graph.ringSize == count)
            #expect(graph.participants == everyone)
            #expect(graph.isComplete == (degree >= count - 1))
            #expect(graph.maximumDegree == reference.maximumDegree)

            var degrees = [UInt32: Int]()
            for participant in everyone {
                let position = try #require(graph.ringPosition(of: participant))
                #expect(position == permutation.apply(Int(participant) - 1))
                #expect(graph.participant(atRingPosition: position) == participant)
                #expect(reference.ringPosition(of: participant) == position)

                let neighbors = graph.neighbors(of: participant)
                #expect(neighbors == reference.neighbors(of: participant), "n \(count), k \(degree), u \(participant)")
                #expect(neighbors == neighbors.sorted())
                #expect(Set(neighbors).count == neighbors.count)
                #expect(!neighbors.contains(participant))
                let neighborSet = Set(neighbors)
                for other in everyone {
                    #expect(graph.areNeighbors(participant, other) == neighborSet.contains(other))
                }
                for neighbor in neighbors { #expect(graph.neighbors(of: neighbor).contains(participant)) }
                degrees[participant] = neighbors.count
            }

            if degree >= count - 1 {
                #expect(degrees.values.allSatisfy { $0 == count - 1 })
            } else if degree % 2 == 1 && count % 2 == 1 {
                // The documented exception: the node at ring position 0 has k + 1 neighbours.
                let extra = try #require(graph.participant(atRingPosition: 0))
                #expect(degrees[extra] == degree + 1)
                #expect(degrees.filter { $0.value == degree }.count == count - 1)
                #expect(graph.maximumDegree == degree + 1)
            } else {
                #expect(degrees.values.allSatisfy { $0 == degree })
                #expect(graph.maximumDegree == degree)
            }
        }
    }

    @Test func outsidersAndOutOfRangePositions() throws {
        let graph = try NeighborGraph(invitedCount: 30, kind: .harary(degree: 4), seed: permutationSeed(3))
        for outsider: UInt32 in [0, 31, .max] {
            #expect(graph.ringPosition(of: outsider) == nil)
            #expect(graph.neighbors(of: outsider).isEmpty)
            #expect(!graph.areNeighbors(outsider, 1))
            #expect(!graph.areNeighbors(1, outsider))
        }
        for position in [-1, 30, Int.max] { #expect(graph.participant(atRingPosition: position) == nil) }
        #expect(!graph.areNeighbors(5, 5))
    }

    @Test func completeKindStillLabelsTheRing() throws {
        let seed = permutationSeed(7)
        let graph = try NeighborGraph(invitedCount: 9, kind: .complete, seed: seed)
        let permutation = try IndexPermutation(count: 9, seed: seed)
        #expect(graph.isComplete)
        #expect(graph.maximumDegree == 8)
        #expect(graph.neighbors(of: 4) == [1, 2, 3, 5, 6, 7, 8, 9])
        for participant in 1...9 {
            #expect(graph.ringPosition(of: UInt32(participant)) == permutation.apply(participant - 1))
        }
        let single = try NeighborGraph(invitedCount: 1, kind: .harary(degree: 3), seed: seed)
        #expect(single.isComplete)
        #expect(single.neighbors(of: 1).isEmpty)
        #expect(single.ringPosition(of: 1) == 0)
        #expect(single.participant(atRingPosition: 0) == 1)
    }

    @Test func rejectsBadInput() {
        let seed = permutationSeed(0)
        #expect(throws: GraphError.empty) { try NeighborGraph(invitedCount: 0, kind: .complete, seed: seed) }
        #expect(throws: GraphError.empty) { try NeighborGraph(invitedCount: -3, kind: .harary(degree: 2), seed: seed) }
        #expect(throws: GraphError.tooManyParticipants((1 << 30) + 1)) {
            try NeighborGraph(invitedCount: (1 << 30) + 1, kind: .harary(degree: 2), seed: seed)
        }
        for degree in [0, -4] {
            #expect(throws: GraphError.invalidDegree(degree)) {
                try NeighborGraph(invitedCount: 10, kind: .harary(degree: degree), seed: seed)
            }
        }
    }

    @Test func oneMillionInvitedClients() throws {
        let graph = try NeighborGraph(invitedCount: 1_000_000, kind: .harary(degree: 40), seed: permutationSeed(11))
        #expect(graph.ringSize == 1_000_000)
        #expect(graph.maximumDegree == 40)
        for participant: UInt32 in [1, 2, 77_777, 500_000, 999_999, 1_000_000] {
            let neighbors = graph.neighbors(of: participant)
            #expect(neighbors.count == 40)
            #expect(neighbors.allSatisfy { graph.areNeighbors($0, participant) })
            #expect(neighbors.allSatisfy { graph.neighbors(of: $0).contains(participant) })
            let position = try #require(graph.ringPosition(of: participant))
            #expect(graph.participant(atRingPosition: position) == participant)
        }
        #expect(graph.neighbors(of: 1_000_001).isEmpty)
    }

    /// The ring accessors on v1 graphs: the Fisher–Yates labelling for Harary kinds (kept even when the degree
    /// makes the graph complete), ascending order for `.complete`.
    @Test func v1RingAccessors() throws {
        let participants: [UInt32] = [40, 10, 30, 20, 50, 60, 70]
        for degree in [2, 3, 6, 10] {
            var coin = SeededRandom(seed: 21)
            var ring = participants.sorted()
            for index in stride(from: ring.count - 1, through: 1, by: -1) {
                ring.swapAt(index, Int(coin.uniform(below: UInt64(index + 1))))
            }
            var graphCoin = SeededRandom(seed: 21)
            let graph = try NeighborGraph(participants: participants, kind: .harary(degree: degree), coin: &graphCoin)
            #expect(graph.ringSize == 7)
            for (position, participant) in ring.enumerated() {
                #expect(graph.ringPosition(of: participant) == position)
                #expect(graph.participant(atRingPosition: position) == participant)
            }
            #expect(graph.ringPosition(of: 11) == nil)
            #expect(graph.participant(atRingPosition: 7) == nil)
        }
        var coin = SeededRandom(seed: 1)
        let complete = try NeighborGraph(participants: participants, kind: .complete, coin: &coin)
        for (position, participant) in participants.sorted().enumerated() {
            #expect(complete.ringPosition(of: participant) == position)
            #expect(complete.participant(atRingPosition: position) == participant)
        }
    }
}
