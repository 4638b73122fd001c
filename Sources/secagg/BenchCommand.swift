import ArgumentParser

/// `secagg bench`: throughput of the mask PRG against raw ChaCha20, and simulated rounds.
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure mask expansion against the raw libsodium ChaCha20 keystream."
    )

    func run() async throws {
        print("not yet")
    }
}
