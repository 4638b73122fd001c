import ArgumentParser
import SecAggCrypto
import SecAggIdentity
import SecAggTransport

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
        commandName: "key", abstract: "Inspect identity files.", subcommands: [Show.self])

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
}
