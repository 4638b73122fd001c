import ArgumentParser
import Foundation
import SecAggCoordinator
import SecAggCrypto
import SecAggFederation
import SecAggIdentity
import SecAggRoot
import SecAggWire

/// `secagg federation round`: a root's global round across shards, run from the command line (protocol/FEDERATION.md).
struct FederationCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "federation", abstract: "Rounds across several secaggd shards (a root's part).",
        subcommands: [GlobalRound.self])

    struct GlobalRound: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "round",
            abstract: "Run one global round: start the task's round on every shard, collect and combine their signed releases.",
            discussion: """
                Each --shard is NAME=HOST:PORT@KEY: the shard's admin listener and its identity key (the key its \
                clients pin). The task file is the definition every shard runs (as for `secagg admin task create`); \
                it fixes the dimension, bits and encoding each release must have. A shard that refuses, aborts, \
                cannot be reached or misses --deadline is excluded with its reason, never substituted. Prints one \
                JSON document: the included cohorts, the excluded ones and why, and the global sum (exact, in bits \
                + ceil(log2 cohorts)) or why there is none; exits 1 when there is none.
                """)

        @Option(name: .customLong("task-file"), help: "The task definition every shard runs (YAML or JSON).")
        var taskFile: String
        @Option(name: .customLong("shard"), help: "NAME=HOST:PORT@KEY, once per shard.") var shards: [String]
        @Option(help: "The root's admin identity file (its key in every shard's admin.keys).") var identity: String
        @Option(name: .customLong("global-round"), help: "The global round id (32 hex digits; random if omitted).")
        var globalRound: String?
        @Option(name: .customLong("min-cohorts"), help: "Fewest cohorts for a release.") var minimumCohorts: Int = 1
        @Option(name: .customLong("min-clients"), help: "Fewest clients across cohorts for a release.")
        var minimumClients: Int = 1
        @Option(help: "Seconds the shards have to deliver their releases.") var deadline: Double = 300
        @Option(help: "Seconds to wait for a shard's admin listener (connection, handshake, answer).") var timeout: Double = 10

        func run() async throws {
            guard let text = FileManager.default.contents(atPath: taskFile).flatMap({ String(data: $0, encoding: .utf8) }) else {
                throw CommandFailure("cannot read \(taskFile)")
            }
            let task: TaskConfiguration
            do { task = try ConfigurationFile.task(definition: text) } catch { throw CommandFailure("\(taskFile): \(error)") }
            var endpoints: [String: (daemon: String, key: String)] = [:]
            var keys: [String: Ed25519.VerifyingKey] = [:]
            for shard in shards {
                guard let equals = shard.firstIndex(of: "="), let at = shard.lastIndex(of: "@"), equals < at else {
                    throw ValidationError("--shard must be NAME=HOST:PORT@KEY, not '\(shard)'")
                }
                let name = String(shard[..<equals])
                let daemon = String(shard[shard.index(after: equals)..<at])
                let key = String(shard[shard.index(after: at)...])
                guard !name.isEmpty, endpoints[name] == nil else { throw ValidationError("shard names must be unique and non-empty") }
                _ = try Endpoint(parsing: daemon, option: "--shard \(name)")
                do { keys[name] = try IdentityFile.publicKey(fromHex: key) } catch {
                    throw ValidationError("--shard \(name): not a public key: \(error)")
                }
                endpoints[name] = (daemon, key)
            }
            guard !endpoints.isEmpty else { throw ValidationError("give at least one --shard") }
            let round: GlobalRoundID
            if let globalRound {
                guard let parsed = GlobalRoundID(hex: globalRound) else { throw ValidationError("--global-round is 32 hex digits") }
                round = parsed
            } else {
                var random = SystemRandom()
                round = GlobalRoundID(using: &random)
            }
            var connections: [String: AdminConnection] = [:]
            for (name, endpoint) in endpoints {
                connections[name] = try AdminConnection.parse([
                    "--daemon", endpoint.daemon, "--identity", identity, "--coordinator-key", endpoint.key,
                    "--timeout", "\(timeout)",
                ])
            }
            let runner = GlobalRoundRunner(
                expectation: task.cohortExpectation(globalRound: round, shards: keys),
                policy: GlobalRoundPolicy(minimumCohorts: minimumCohorts, minimumClients: minimumClients),
                deadline: .milliseconds(Int64(max(1, deadline) * 1000)))
            let outcome = await runner.run(using: AdminShards(connections: connections))
            print(GlobalRoundReport.text(GlobalRoundReport.finished(outcome, globalRound: round, task: task)))
            if case .failure = outcome.result { throw ExitCode.failure }
        }
    }
}

/// The shards' admin listeners, one authenticated session per request.
struct AdminShards: ShardAdministration {
    let connections: [String: AdminConnection]

    func exchange(_ request: AdminRequest, with shard: String) async throws -> AdminResponse {
        guard let connection = connections[shard] else { throw CommandFailure("no shard named \(shard)") }
        return try await connection.responses { exchange in try await exchange(request) }
    }
}
