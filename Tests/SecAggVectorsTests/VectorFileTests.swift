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
        let total = try VectorSuite.fileNames.map { try committed($0).utf8.count }.reduce(0, +)
        #expect(total < 2_000_000)
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
