import ArgumentParser
import SecAggCrypto
import SecAggIdentity
import SecAggProtocol
import SecAggTransport
import SecAggWire

/// `secagg keygen`: a new Ed25519 identity file (mode 0600), never overwriting one.
struct KeygenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keygen", abstract: "Create an identity (Ed25519 key) file and print its public key.")

    @Option(name: .shortAndLong, help: "Where to write the identity; must not exist.") var out: String

    func run() throws {
        do {
            let key = try IdentityFile.create(at: out)
            print(key.verifyingKey)
        } catch let error as IdentityFileError {
            throw CommandFailure(error.description)
        }
    }
}

/// `secagg key show`: the public key of an identity file.
struct KeyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "key", abstract: "Inspect identity files; endorse client identities.", subcommands: [Show.self, Endorse.self])

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the public key of an identity file.")

        @Argument(help: "The identity file.") var file: String
        @Flag(help: "Also print the derived X25519 (Noise static) public key.") var verbose = false

        func run() throws {
            do {
                let key = try IdentityFile.load(from: file)
                print(key.verifyingKey)
                if verbose { print("noise-static \(key.agreementKey.publicKey)") }
            } catch let error as IdentityFileError {
                throw CommandFailure(error.description)
            }
        }
    }

    /// `secagg key endorse`: the enrollment authority's endorsement of a client identity (SPEC §2.1, §5.1), run where
    /// the authority's key is kept (offline, apart from the coordinator). The line it prints is the client's
    /// enrollment entry for `secaggd` (`enrollment.file` with `enrollment.authority` set).
    struct Endorse: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Endorse a client's public key with the enrollment authority's identity file.",
            discussion: """
                Prints '<client key> endorsement=<128 hex digits> [label]', an entry of the coordinator's enrollment \
                list. Clients given the authority's public key (secagg participate --enrollment-authority) then \
                accept only neighbours the authority endorsed.
                """)

        @Option(help: "The enrollment authority's identity file.") var authority: String
        @Argument(help: "The client's public key (64 hex digits).") var client: String
        @Argument(help: "A label for the enrollment entry.") var label: [String] = []

        func run() throws {
            do {
                let signer = try IdentityFile.load(from: authority)
                let identity = try IdentityFile.publicKey(fromHex: client)
                let endorsement = Endorsement.sign(identity, by: signer)
                print((["\(identity)", "endorsement=\(hexString(endorsement))"] + label).joined(separator: " "))
            } catch let error as IdentityFileError {
                throw CommandFailure(error.description)
            }
        }
    }
}
