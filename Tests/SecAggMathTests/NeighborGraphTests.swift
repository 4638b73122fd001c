import SecAggCrypto
import Testing

@testable import SecAggMath

@Suite struct NeighborGraphTests {
    func graph(_ participants: [UInt32], _ kind: NeighborGraph.Kind, seed: UInt64 = 1) throws -> NeighborGraph {
        var coin = SeededRandom(seed: seed)
        return try NeighborGraph(participants: participants, kind: kind, coin: &coin)
    }

    /// Checks symmetry through both query methods, and returns each participant's degree.
    func checkedDegrees(_ graph: NeighborGraph) -> [UInt32: Int] {
        var degrees = [UInt32: Int]()
        for participant in graph.participants {
            let neighbors = graph.neighbors(of: participant)
            #expect(neighbors == neighbors.sorted())
            #expect(Set(neighbors).count == neighbors.count)
            #expect(!neighbors.contains(participant))
            for neighbor in neighbors {
                #expect(graph.areNeighbors(participant, neighbor))
                #expect(graph.neighbors(of: neighbor).contains(participant))
            }
            degrees[participant] = neighbors.count
        }
        return degrees
    }

    /// Whether every participant is reachable from the first (breadth-first search).
    func isConnected(_ graph: NeighborGraph) -> Bool {
        var seen: Set<UInt32> = [graph.participants[0]]
        var frontier = [graph.participants[0]]
        while let next = frontier.popLast() {
            for neighbor in graph.neighbors(of: next) where seen.insert(neighbor).inserted {
                frontier.append(neighbor)
            }
        }
        return seen.count == graph.participants.count
    }

    @Test func rejectsBadInput() {
        var coin = SeededRandom(seed: 0)
        #expect(throws: GraphError.empty) { try NeighborGraph(participants: [], kind: .complete, coin: &coin) }
        #expect(throws: GraphError.invalidParticipant(0)) {
            try NeighborGraph(participants: [3, 0, 1], kind: .complete, coin: &coin)
        }
        #expect(throws: GraphError.duplicateParticipant(3)) {
            try NeighborGraph(participants: [3, 1, 3], kind: .harary(degree: 2), coin: &coin)
        }
        for degree in [0, -4] {
            #expect(throws: GraphError.invalidDegree(degree)) {
                try NeighborGraph(participants: [1, 2, 3], kind: .harary(degree: degree), coin: &coin)
            }
        }
    }

    @Test func completeGraphConnectsEveryone() throws {
        let complete = try graph([9, 4, 7, 1], .complete)
        #expect(complete.participants == [1, 4, 7, 9])
        #expect(complete.isComplete)
        #expect(complete.neighbors(of: 7) == [1, 4, 9])
        #expect(complete.areNeighbors(1, 9))
        #expect(!complete.areNeighbors(1, 1))
        #expect(!complete.areNeighbors(1, 2))
        #expect(complete.neighbors(of: 2).isEmpty)
        #expect(complete.maximumDegree == 3)
        #expect(try graph([5], .complete).neighbors(of: 5).isEmpty)
    }

    @Test func completeGraphDrawsNoRandomness() throws {
        var coin = SeededRandom(seed: 3)
        _ = try NeighborGraph(participants: [1, 2, 3], kind: .complete, coin: &coin)
        var fresh = SeededRandom(seed: 3)
        #expect(coin.nextWord() == fresh.nextWord())
    }

    @Test func hararyOfDegreeAtLeastNMinusOneIsComplete() throws {
        for degree in [9, 10, 50] {
            let harary = try graph(Array(1...10), .harary(degree: degree))
            #expect(harary.isComplete)
            #expect(harary.maximumDegree == 9)
            #expect(checkedDegrees(harary).values.allSatisfy { $0 == 9 })
        }
        #expect(try graph([1, 2], .harary(degree: 1)).neighbors(of: 1) == [2])
    }

    @Test func degreeTwoIsASingleRing() throws {
        let participants = (1...57).map { UInt32($0 * 5) }
        let ring = try graph(participants, .harary(degree: 2), seed: 4)
        #expect(checkedDegrees(ring).values.allSatisfy { $0 == 2 })
        // Walking the ring visits every participant once before returning to the start.
        var previous = participants[0]
        var current = ring.neighbors(of: previous)[0]
        var steps = 1
        while current != participants[0] {
            let next = ring.neighbors(of: current).first { $0 != previous }!
            previous = current
            current = next
            steps += 1
        }
        #expect(steps == participants.count)
    }

    @Test(arguments: [(50, 6), (40, 5), (41, 5), (41, 6), (12, 1), (13, 1), (13, 3), (100, 11)])
    func hararyDegreesAndConnectivity(count: Int, degree: Int) throws {
        let harary = try graph((1...count).map { UInt32($0) }, .harary(degree: degree), seed: UInt64(count * degree))
        let degrees = checkedDegrees(harary)
        #expect(!harary.isComplete)
        if degree % 2 == 1 && count % 2 == 1 {
            // The standard construction gives exactly one node one extra edge.
            #expect(degrees.values.filter { $0 == degree + 1 }.count == 1)
            #expect(degrees.values.filter { $0 == degree }.count == count - 1)
            #expect(harary.maximumDegree == degree + 1)
        } else {
            #expect(degrees.values.allSatisfy { $0 == degree })
            #expect(harary.maximumDegree == degree)
        }
        if degree >= 2 { #expect(isConnected(harary)) }
        let edgeCount = degrees.values.reduce(0, +)
        #expect(edgeCount % 2 == 0)
    }

    @Test func everyPairAgreesBetweenQueries() throws {
        let participants: [UInt32] = [2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47]
        for degree in [2, 3, 4, 7] {
            let harary = try graph(participants, .harary(degree: degree), seed: 8)
            for a in participants {
                let neighbors = Set(harary.neighbors(of: a))
                for b in participants { #expect(harary.areNeighbors(a, b) == neighbors.contains(b)) }
            }
            #expect(!harary.areNeighbors(2, 4))
        }
    }

    @Test func labellingFollowsTheSpecifiedFisherYates() throws {
        let participants: [UInt32] = [40, 10, 30, 20, 50, 60, 70]
        var coin = SeededRandom(seed: 21)
        var ring = participants.sorted()
        for index in stride(from: ring.count - 1, through: 1, by: -1) {
            ring.swapAt(index, Int(coin.uniform(below: UInt64(index + 1))))
        }
        let harary = try graph(participants, .harary(degree: 2), seed: 21)
        for position in ring.indices {
            let expected = [ring[(position + 1) % ring.count], ring[(position + ring.count - 1) % ring.count]].sorted()
            #expect(harary.neighbors(of: ring[position]) == expected)
        }
    }

    @Test func sameCoinSameGraphOtherCoinOtherGraph() throws {
        let participants = (1...200).map { UInt32($0 * 7 + 3) }
        let first = try graph(participants, .harary(degree: 8), seed: 100)
        let second = try graph(participants.reversed(), .harary(degree: 8), seed: 100)
        let third = try graph(participants, .harary(degree: 8), seed: 101)
        let firstLists = participants.map(first.neighbors(of:))
        #expect(firstLists == participants.map(second.neighbors(of:)))
        #expect(firstLists != participants.map(third.neighbors(of:)))
    }

    @Test func scalesToOneHundredThousandParticipants() throws {
        let participants = (1...100_000).map { UInt32($0) }
        let harary = try graph(participants, .harary(degree: 40), seed: 5)
        #expect(harary.maximumDegree == 40)
        for participant in stride(from: 1, through: 100_000, by: 9_973).map(UInt32.init) {
            let neighbors = harary.neighbors(of: participant)
            #expect(neighbors.count == 40)
            #expect(neighbors.allSatisfy { harary.areNeighbors($0, participant) })
        }
        #expect(harary.neighbors(of: 100_001).isEmpty)
    }
}
