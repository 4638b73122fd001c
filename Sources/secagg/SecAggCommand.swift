import ArgumentParser

/// The `secagg` command line: simulate rounds, benchmark the primitives.
@main
struct SecAggCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "secagg",
        abstract: "Secure aggregation (SecAgg / SecAgg+): take part in rounds, manage identities, simulate and measure.",
        subcommands: [
            SimulateCommand.self, ParticipateCommand.self, KeygenCommand.self, KeyCommand.self, DPCommand.self,
            BenchCommand.self, AdminCommand.self, AuditCommand.self, VectorsCommand.self,
        ]
    )
}

/// A failure to report as one line, without the usage text (the arguments were fine; the operation failed).
struct CommandFailure: Error, CustomStringConvertible {
    var description: String

    init(_ description: String) { self.description = description }
}
