import ArgumentParser
import SecAggCrypto
import SecAggIdentity
import SecAggTransport
import SecAggWire

/// The `secagg` command line: simulate rounds, benchmark the primitives.
@main
struct SecAggCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "secagg",
        abstract: "Secure aggregation (SecAgg / SecAgg+): take part in rounds, manage identities, simulate and measure.",
        version: SecAggVersion.summary,
        subcommands: [
            SimulateCommand.self, ParticipateCommand.self, KeygenCommand.self, KeyCommand.self, DPCommand.self,
            ExperimentCommand.self, PlotCommand.self, BenchCommand.self, AdminCommand.self, AuditCommand.self,
            VectorsCommand.self, FederationCommand.self,
        ]
    )
}

/// A failure to report as one line, without the usage text (the arguments were fine; the operation failed).
struct CommandFailure: Error, CustomStringConvertible {
    var description: String

    init(_ description: String) { self.description = description }
}

/// A `HOST:PORT` option value; the port follows the last colon, so IPv6 hosts keep theirs.
struct Endpoint {
    var host: String
    var port: Int

    /// - Throws: `ValidationError` naming `option` when `text` is not `HOST:PORT`.
    init(parsing text: String, option: String) throws {
        let parts = text.split(separator: ":")
        guard parts.count >= 2, let last = parts.last, let port = Int(last), (0...65535).contains(port) else {
            throw ValidationError("\(option) must be HOST:PORT")
        }
        host = parts.dropLast().joined(separator: ":")
        self.port = port
    }

    var pair: (host: String, port: Int) { (host, port) }
}

/// The pinned peer key (hex) and this party's identity file, read for a command that connects.
///
/// - Throws: `CommandFailure` with the identity-file error's message.
func loadConnectionKeys(
    peerKey: String, identityPath: String
) throws -> (pinned: Ed25519.VerifyingKey, identity: Ed25519.SigningKey) {
    do {
        return (try IdentityFile.publicKey(fromHex: peerKey), try IdentityFile.load(from: identityPath))
    } catch let error as IdentityFileError {
        throw CommandFailure(error.description)
    }
}
