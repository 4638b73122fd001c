import ArgumentParser
import Foundation
import SecAggWire

extension AdminCommand {
    /// `secagg admin global …`: a root's global rounds (protocol/FEDERATION.md §4; ask `secagg-root`'s admin listener).
    struct GlobalCommands: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "global", abstract: "A root's global rounds across its shards (secagg-root).",
            subcommands: [Start.self, GlobalList.self, Show.self, Export.self, Shards.self])

        struct Start: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Start a global round of a task on every shard now (charged to the task's global ledger first).")
            @OptionGroup var connection: AdminConnection
            @Argument(help: "The task's name.") var task: String

            func run() async throws { try await connection.print(.startGlobal(task: try taskName(task))) }
        }

        struct GlobalList: AsyncParsableCommand {
            static let configuration = CommandConfiguration(commandName: "list", abstract: "The latest global rounds, newest first.")
            @OptionGroup var connection: AdminConnection
            @Option(help: "Only this task's global rounds.") var task: String?
            @Option(help: "At most this many.") var limit: UInt32 = 20

            func run() async throws {
                try await connection.print(.listGlobalRounds(task: try task.map(taskName) ?? "", limit: limit))
            }
        }

        struct Show: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "One global round: cohorts included (with their signed releases) and excluded (with reasons), the sum or why none.")
            @OptionGroup var connection: AdminConnection
            @Argument(help: "The global round id (32 hex digits).") var globalRound: String

            func run() async throws { try await connection.print(.showGlobalRound(globalRound: try globalRoundID(globalRound))) }
        }

        struct Export: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Write a released global round as JSON (the whole record, signed releases included) or CSV.")
            enum Format: String, ExpressibleByArgument { case json, csv }
            @OptionGroup var connection: AdminConnection
            @Argument(help: "The global round id (32 hex digits).") var globalRound: String
            @Option(help: "json (the root's record) or csv (index,value per line; with a real encoding also the decoded value).")
            var format: Format = .json
            @Option(help: "Output file (default: standard output).") var out: String?

            func run() async throws {
                let body = try await connection.call(.showGlobalRound(globalRound: try globalRoundID(globalRound)))
                let text: String
                switch format {
                case .json:
                    text = body + "\n"
                case .csv:
                    guard let object = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any] else {
                        throw CommandFailure("the root's answer is not a JSON object")
                    }
                    guard let sum = object["sum"] as? [NSNumber] else {
                        throw CommandFailure("global round \(globalRound) released no sum (\(object["state"] ?? "?"): \(object["failure"] ?? "no failure recorded"))")
                    }
                    let decoded = object["decoded"] as? [NSNumber]
                    var lines = [decoded == nil ? "index,value" : "index,value,decoded"]
                    for (index, value) in sum.enumerated() {
                        lines.append("\(index),\(value)" + (decoded.map { index < $0.count ? ",\($0[index])" : "," } ?? ""))
                    }
                    // Decoded reals can be shorter (the real dimension d) than the sum (its power of two).
                    if let decoded, decoded.count > sum.count {
                        for index in sum.count..<decoded.count { lines.append("\(index),,\(decoded[index])") }
                    }
                    text = lines.joined(separator: "\n") + "\n"
                }
                try writeExport(text, to: out)
            }
        }

        struct Shards: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "The root's shards: endpoints, keys, whether each answered its last check, clients placed.")
            @OptionGroup var connection: AdminConnection

            func run() async throws { try await connection.print(.listShards) }
        }
    }
}
