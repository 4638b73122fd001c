import ArgumentParser

/// The `secagg` command line: simulate rounds, benchmark the primitives.
@main
struct SecAggCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "secagg",
        abstract: "Secure aggregation (SecAgg / SecAgg+): simulate rounds and measure the implementation.",
        subcommands: [SimulateCommand.self, BenchCommand.self]
    )
}
