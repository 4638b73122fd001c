import Foundation
import Testing
@testable import SecAggVectors

/// The committed files of `protocol/vectors/`, located from this file's path.
private let vectorDirectory: String = {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }
    return url.appendingPathComponent("protocol/vectors").path
}()

private func committed(_ name: String) throws -> String {
    let path = URL(fileURLWithPath: vectorDirectory).appendingPathComponent(name).path
    let data = try #require(FileManager.default.contents(atPath: path), "missing \(path)")
    return String(decoding: data, as: UTF8.self)
}

@Suite("Committed vectors") struct CommittedVectorTests {
    @Test("every committed file agrees with the implementation", arguments: VectorSuite.fileNames)
    func verifies(name: String) throws {
        let mismatches = VectorSuite.verify(name: name, contents: try committed(name))
        #expect(mismatches.isEmpty, "\(mismatches.prefix(10).map(\.description).joined(separator: "\n"))")
    }

    @Test("generation reproduces the committed files byte for byte")
    func generationIsReproducible() throws {
        let generated = try VectorSuite.generate()
        #expect(generated.map(\.name) == VectorSuite.fileNames)
        for file in generated {
            #expect(file.contents == (try committed(file.name)), "regenerate with `secagg vectors generate`: \(file.name) differs")
        }
    }

    @Test("the vector files stay small")
    func totalSize() throws {
        // About 2.8 MB, half of it the 64-client transcript (SPEC 12.3).
        let total = try VectorSuite.fileNames.map { try committed($0).utf8.count }.reduce(0, +)
        #expect(total < 3_500_000)
    }

    @Test("the files are those of SPEC 12, each of protocol version 2")
    func fileList() throws {
        #expect(VectorSuite.fileNames.count == 23)
        for name in ["kdf.json", "prg.json", "shamir.json", "share_encryption.json", "graph.json", "merkle.json",
                     "parameters.json", "messages.json", "negative.json", "transcript_harary_n64_k6_hbc_dropouts.json",
                     "cohort_release.json", "shard_placement.json"] {
            #expect(VectorSuite.fileNames.contains(name), "\(name)")
        }
        for name in VectorSuite.fileNames {
            let file = try JSONValue(parsing: try committed(name))
            #expect(file.optionalMember("protocol_version") == .number("2"), "\(name)")
        }
    }
}

/// The parsed cases of a committed file.
private func cases(_ name: String) throws -> [JSONValue] {
    guard case let .array(cases)? = try JSONValue(parsing: try committed(name)).optionalMember("cases") else {
        throw VectorError.badField("cases", "missing in \(name)")
    }
    return cases
}

private func text(_ value: JSONValue?) -> String? {
    if case let .string(text)? = value { return text }
    return nil
}

private func integers(_ value: JSONValue?) -> [UInt64] {
    guard case let .array(elements)? = value else { return [] }
    return elements.compactMap(\.asUInt64)
}

@Suite("Version 2 coverage") struct CoverageTests {
    @Test("kdf.json has a case for every label of SPEC 5, and both forms of each Merkle leaf")
    func everyLabel() throws {
        let labels = try cases("kdf.json").compactMap { text($0.optionalMember("label")) }
        let expected = [
            "secagg/v2/round", "secagg/v2/advertise", "secagg/v1/endorse", "secagg/v2/session", "secagg/v2/graph",
            "secagg/v2/share-encryption", "secagg/v2/self-mask", "secagg/v2/self-mask-commitment",
            "secagg/v2/pairwise-mask", "secagg/v2/consistency", "secagg/v2/merkle-node", "secagg/v2/u1-leaf",
            "secagg/v2/u3-leaf",
        ]
        #expect(Set(labels) == Set(expected))
        #expect(labels.filter { $0 == "secagg/v2/u1-leaf" }.count == 2)
        #expect(labels.filter { $0 == "secagg/v2/u3-leaf" }.count == 2)
    }

    @Test("graph.json covers the permutation at powers of two, non-powers and n = 1,000,000, and every graph shape")
    func graphCases() throws {
        let all = try cases("graph.json")
        let sizes = all.filter { text($0.optionalMember("operation")) == "permutation" }.compactMap { $0.optionalMember("invited_count")?.asUInt64 }
        for n: UInt64 in [1, 2, 3, 4, 5, 13, 16, 64, 100, 1_000_000] { #expect(sizes.contains(n), "n = \(n)") }
        // Some walks take several passes of E (cycle walking).
        #expect(all.contains { integers($0.optionalMember("image_passes")).contains { $0 > 1 } })
        let names = all.compactMap { text($0.optionalMember("name")) }
        for name in ["complete-n5", "harary-n8-k4-even-degree", "harary-n8-k3-odd-degree-even-n", "harary-n7-k3-odd-degree-odd-n",
                     "harary-n13-k4-even-degree-odd-n", "harary-n64-k6"] {
            #expect(names.contains(name), "\(name)")
        }
    }

    @Test("merkle.json has trees of 1, 2, 3, 5, 13 and 64 leaves, with an empty proof when every slot is proven")
    func merkleCases() throws {
        let all = try cases("merkle.json")
        #expect(all.compactMap { $0.optionalMember("leaf_count")?.asUInt64 } == [1, 2, 3, 5, 13, 64])
        for entry in all {
            guard case let .array(proofs)? = entry.optionalMember("proofs"), let n = entry.optionalMember("leaf_count")?.asUInt64 else {
                Issue.record("proofs missing")
                continue
            }
            #expect(proofs.count >= 1)
            for proof in proofs where integers(proof.optionalMember("positions")).count == Int(n) {
                #expect(proof.optionalMember("proof") == .array([]))
            }
        }
    }

    @Test("in the 64-client transcript each ShareKeysRequest holds only the recipient's neighbourhood")
    func sparseTranscript() throws {
        let transcript = try #require(try cases("transcript_harary_n64_k6_hbc_dropouts.json").first)
        let invited = try #require(transcript.optionalMember("parameters")?.optionalMember("invited_count")?.asUInt64)
        #expect(invited >= 64)
        guard case let .object(neighbours)? = transcript.optionalMember("neighbours"),
              case let .array(messages)? = transcript.optionalMember("messages") else {
            Issue.record("neighbours or messages missing")
            return
        }
        #expect(neighbours.count == Int(invited))
        #expect(neighbours.values.allSatisfy { integers($0).count == 6 })
        let requests = messages.filter { text($0.optionalMember("type")) == "shareKeysRequest" }
        #expect(requests.count == transcript.optionalMember("sets")?.optionalMember("U1").map { integers($0).count })
        for request in requests {
            let recipients = integers(request.optionalMember("to"))
            #expect(recipients.count == 1)
            // At most 7 advertisements of at most 229 bytes and a proof of at most 7 · 6 digests, far below U1's 62 entries.
            let bytes = (text(request.optionalMember("bytes"))?.count ?? 0) / 2
            #expect(bytes < 3 * 1024)
        }
        let dropped = transcript.optionalMember("dropped")?.serialized ?? ""
        for phase in ["advertise", "share", "masked", "unmask"] {
            #expect(dropped.contains("\"phase\": \"\(phase)\""), "a dropout in \(phase)")
        }
    }

    @Test("negative.json rejects bad U1 proofs and survivor views with inconsistentView, then ClientAbort 0x0204")
    func commitmentNegatives() throws {
        let all = try cases("negative.json")
        for name in [
            "share-keys-request-proof-digest-flipped", "share-keys-request-absent-neighbour-listed",
            "share-keys-request-present-neighbour-claimed-absent", "consistency-check-request-status-flipped",
            "unmask-request-status-flipped", "unmask-request-differs-from-signed-set",
            "unmask-request-survivor-root-differs-from-signed",
        ] {
            let entry = try #require(all.first { text($0.optionalMember("name")) == name }, "\(name)")
            #expect(text(entry.optionalMember("outcome")) == "rejected: inconsistentView", "\(name)")
            #expect(entry.optionalMember("abort_code") == .number("516"), "\(name)")
            #expect(entry.optionalMember("step")?.asUInt64 != nil, "\(name)")
        }
    }
}

@Suite("Vector directory") struct VectorDirectoryTests {
    @Test("files written to a directory verify, and a missing file is reported")
    func writeThenVerify() throws {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("secagg-vectors-\(UInt64.random(in: 0...UInt64.max))").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let written = try VectorSuite.write(to: directory)
        #expect(written.map(\.name) == VectorSuite.fileNames)
        #expect(VectorSuite.verify(directory: directory).isEmpty)
        try FileManager.default.removeItem(atPath: directory + "/graph.json")
        let mismatches = VectorSuite.verify(directory: directory)
        #expect(mismatches.map(\.file) == ["graph.json"])
    }
}

@Suite("Corrupted vectors are detected") struct CorruptionTests {
    /// Flips one hex digit of the first occurrence of `field` in `name` and returns the mismatches.
    private func corrupt(_ name: String, field: String) throws -> [VectorMismatch] {
        var text = Array(try committed(name).utf8)
        let needle = Array("\"\(field)\": \"".utf8)
        let start = try #require(text.indices.first { text[$0...].starts(with: needle) }, "\(field) not in \(name)")
        let position = start + needle.count
        text[position] = text[position] == UInt8(ascii: "0") ? UInt8(ascii: "1") : UInt8(ascii: "0")
        return VectorSuite.verify(name: name, contents: String(decoding: text, as: UTF8.self))
    }

    @Test("a changed output byte is reported with its file and field")
    func changedOutput() throws {
        let mismatches = try corrupt("kdf.json", field: "output")
        #expect(mismatches.count == 1)
        #expect(mismatches.first?.file == "kdf.json")
        #expect(mismatches.first?.path.hasSuffix(".output") == true)
    }

    @Test("a changed random draw changes every value derived from it")
    func changedDraw() throws {
        let mismatches = try corrupt("transcript_complete_hbc.json", field: "self_mask_seed")
        #expect(!mismatches.isEmpty)
        #expect(mismatches.contains { $0.path.contains("self_mask_commitment") })
        #expect(mismatches.allSatisfy { $0.file == "transcript_complete_hbc.json" })
    }

    @Test("a changed message byte in a transcript is reported")
    func changedMessage() throws {
        let mismatches = try corrupt("transcript_harary_odd_active.json", field: "bytes")
        #expect(mismatches.contains { $0.path.contains("messages[0].bytes") })
    }

    @Test("a changed expected error of a negative vector is reported")
    func changedNegative() throws {
        let text = try committed("negative.json").replacingOccurrences(
            of: "\"rejected: badSignature\"", with: "\"rejected: invalidKey\"")
        let mismatches = VectorSuite.verify(name: "negative.json", contents: text)
        #expect(!mismatches.isEmpty)
        #expect(mismatches.allSatisfy { $0.path.hasSuffix(".outcome") })
    }

    @Test("a changed PRG lane is reported")
    func changedLane() throws {
        var file = try JSONValue(parsing: try committed("prg.json"))
        guard case var .object(top) = file, case var .array(cases)? = top["cases"], case var .object(first) = cases[0],
              case var .array(lanes)? = first["lanes"] else {
            Issue.record("unexpected prg.json layout")
            return
        }
        lanes[3] = lanes[3] == .number("0") ? .number("1") : .number("0")
        first["lanes"] = .array(lanes)
        cases[0] = .object(first)
        top["cases"] = .array(cases)
        file = .object(top)
        let mismatches = VectorSuite.verify(name: "prg.json", contents: file.serialized)
        #expect(mismatches.map(\.path) == ["cases[0].lanes"])
    }

    /// Applies `change` to case `index` of `name` and returns the mismatches of the result.
    private func corruptCase(
        _ name: String, index: Int, _ change: (inout [String: JSONValue]) -> Void
    ) throws -> [VectorMismatch] {
        guard case var .object(top) = try JSONValue(parsing: try committed(name)), case var .array(cases)? = top["cases"],
              case var .object(entry) = cases[index] else {
            Issue.record("unexpected \(name) layout")
            return []
        }
        change(&entry)
        cases[index] = .object(entry)
        top["cases"] = .array(cases)
        return VectorSuite.verify(name: name, contents: JSONValue.object(top).serialized)
    }

    @Test("a changed multiproof digest is reported")
    func changedProof() throws {
        let mismatches = try corruptCase("merkle.json", index: 3) { entry in
            guard case var .array(proofs)? = entry["proofs"], case var .object(first) = proofs[0],
                  case var .array(digests)? = first["proof"], case let .string(digest) = digests[0] else { return }
            digests[0] = .string((digest.first == "0" ? "1" : "0") + digest.dropFirst())
            first["proof"] = .array(digests)
            proofs[0] = .object(first)
            entry["proofs"] = .array(proofs)
        }
        #expect(mismatches.map(\.path) == ["cases[3](merkle-n5).proofs[0].proof"])
    }

    @Test("a changed ring position or neighbour is reported")
    func changedRing() throws {
        let mismatches = try corruptCase("graph.json", index: 14) { entry in
            guard case var .array(ring)? = entry["ring"] else { return }
            ring.swapAt(0, 1)
            entry["ring"] = .array(ring)
        }
        #expect(mismatches.count == 1)
        #expect(mismatches.first?.path.hasSuffix(".ring") == true)
    }

    @Test("a changed U1 root or survivor status in a transcript is reported")
    func changedCommitments() throws {
        let name = "transcript_harary_n64_k6_hbc_dropouts.json"
        let root = try corruptCase(name, index: 0) { entry in
            guard case let .string(root)? = entry["u1_root"] else { return }
            entry["u1_root"] = .string((root.first == "0" ? "1" : "0") + root.dropFirst())
        }
        #expect(root.map(\.path) == ["cases[0](transcript_harary_n64_k6_hbc_dropouts).u1_root"])
        let status = try corruptCase(name, index: 0) { entry in
            guard case var .array(clients)? = entry["clients"], case var .object(client) = clients[0],
                  case var .array(statuses)? = client["survivor_statuses"] else { return }
            statuses[0] = statuses[0] == .number("0") ? .number("1") : .number("0")
            client["survivor_statuses"] = .array(statuses)
            clients[0] = .object(client)
            entry["clients"] = .array(clients)
        }
        #expect(status.count == 1)
        #expect(status.first?.path.hasSuffix("clients[0].survivor_statuses") == true)
    }

    @Test("a changed abort code of a negative vector is reported")
    func changedAbortCode() throws {
        let text = try committed("negative.json").replacingOccurrences(of: "\"abort_code\": 516", with: "\"abort_code\": 517")
        let mismatches = VectorSuite.verify(name: "negative.json", contents: text)
        #expect(!mismatches.isEmpty)
        #expect(mismatches.allSatisfy { $0.path.hasSuffix(".abort_code") })
    }

    @Test("malformed JSON is reported, not trapped")
    func malformed() {
        #expect(!VectorSuite.verify(name: "kdf.json", contents: "{\"cases\": [1.5]}").isEmpty)
        #expect(!VectorSuite.verify(name: "kdf.json", contents: "{").isEmpty)
        #expect(!VectorSuite.verify(name: "unknown.json", contents: "{}").isEmpty)
    }
}

@Suite("Vector JSON") struct VectorJSONTests {
    @Test("serialization is canonical and round-trips exact 64-bit integers")
    func roundTrip() throws {
        let value = JSONValue.object([
            "b": .uints([UInt64.max, 0]), "a": .string("q\"\n"), "c": .array([.object([:]), .null, .bool(true)]),
        ])
        let text = value.serialized
        #expect(text.hasPrefix("{\n  \"a\""))
        #expect(try JSONValue(parsing: text) == value)
        #expect(try JSONValue(parsing: text).serialized == text)
    }
}
