import ArgumentParser
import SecAggVectors

/// `secagg vectors generate|verify`: the known-answer vectors of `protocol/vectors/` (SPEC "Test vectors").
struct VectorsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vectors", abstract: "Generate or verify the protocol's known-answer vectors.",
        subcommands: [Generate.self, Verify.self])

    struct Generate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write every vector file (deterministic: regenerating gives the same bytes).")

        @Option(help: "Directory to write into (created if missing).") var output = "protocol/vectors"

        func run() throws {
            let written = try VectorSuite.write(to: output)
            print("wrote \(written.count) files, \(written.map(\.bytes).reduce(0, +)) bytes, to \(output)")
        }
    }

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Recompute every vector from its explicit inputs; report each mismatch by file and field.")

        @Option(help: "Directory holding the vector files.") var directory = "protocol/vectors"

        func run() throws {
            let mismatches = VectorSuite.verify(directory: directory)
            for mismatch in mismatches { print(mismatch) }
            guard mismatches.isEmpty else { throw CommandFailure("\(mismatches.count) mismatches") }
            print("all \(VectorSuite.fileNames.count) vector files agree with the implementation")
        }
    }
}
