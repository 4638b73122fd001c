import ArgumentParser
import Foundation
import SecAggCoordinator
import SecAggCrypto
import SecAggIdentity
import SecAggTransport
import SecAggWire

/// `secagg admin`: operate a running `secaggd` over its admin listener (protocol/ADMIN.md) — a Noise XX session
/// authenticated with an admin key the daemon lists in `admin.keys`.
struct AdminCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "admin",
        abstract: "Operate a running secaggd or secagg-root: clients, tasks, rounds, results, budgets and global rounds.",
        discussion: """
            Every subcommand takes --identity (the admin key file from `secagg keygen`), --coordinator-key (the \
            daemon's public key) and --daemon (the admin listener, 127.0.0.1:7462 by default). Answers are JSON; \
            `round watch` prints progress lines and `result export` can write CSV.
            """,
        subcommands: [
            Enroll.self, Revoke.self, List.self, TaskCommands.self, RoundCommands.self, ResultCommands.self,
            BudgetCommands.self, GlobalCommands.self,
        ])

    struct Enroll: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Enroll a client public key; it may connect at once.")
        @OptionGroup var connection: AdminConnection
        @Argument(help: "The client's public key (64 hex digits, from `secagg keygen`).") var key: String
        @Option(help: "A label for logs and listings.") var label: String
        @Option(help: "The enrollment authority's endorsement of the key (128 hex digits, from `secagg key endorse`); required when the daemon has an enrollment authority.")
        var endorsement: String?

        func run() async throws {
            guard (1...255).contains(label.utf8.count) else { throw ValidationError("--label must be 1...255 bytes") }
            let key = try clientKey(key)
            var signature: [UInt8] = []
            if let endorsement {
                guard let bytes = bytes(fromHex: endorsement), bytes.count == 64 else {
                    throw ValidationError("--endorsement must be 128 hex digits")
                }
                signature = bytes
            }
            try await connection.print(.enroll(publicKey: key.rawRepresentation, label: label, endorsement: signature))
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a client public key; it can no longer connect.")
        @OptionGroup var connection: AdminConnection
        @Argument(help: "The client's public key (64 hex digits).") var key: String

        func run() async throws {
            try await connection.print(.revoke(publicKey: try clientKey(key).rawRepresentation))
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List what the daemon knows.", subcommands: [Clients.self])

        struct Clients: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Every enrolled or revoked client.")
            @OptionGroup var connection: AdminConnection

            func run() async throws { try await connection.print(.listClients) }
        }
    }

    struct TaskCommands: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "task", abstract: "Create, inspect, change, pause and retire tasks.",
            subcommands: [Create.self, TaskList.self, Show.self, Update.self, Pause.self, Resume.self, Retire.self])

        struct Create: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Create a task from a file holding one task's keys (as under `tasks:` in secaggd.yaml).")
            @OptionGroup var connection: AdminConnection
            @Argument(help: "The task definition file (YAML or JSON), or - for standard input.") var file: String

            func run() async throws {
                try await connection.print(.createTask(definition: try readDefinition(file)))
            }
        }

        struct Update: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Replace a task's definition (its name says which) for the rounds that start afterwards.",
                discussion: """
                    Only tasks created with `task create` (a configuration task is changed in the file, then a restart). \
                    Privacy cannot be added or removed and delta cannot change; budget_epsilon may be raised, or lowered \
                    down to what is spent. Each change is audited.
                    """)
            @OptionGroup var connection: AdminConnection
            @Argument(help: "The task definition file (YAML or JSON), or - for standard input.") var file: String

            func run() async throws {
                try await connection.print(.updateTask(definition: try readDefinition(file)))
            }
        }

        struct Pause: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Stop taking joins and starting rounds (a round in flight finishes); survives restarts.")
            @OptionGroup var connection: AdminConnection
            @Argument(help: "The task name.") var name: String

            func run() async throws { try await connection.print(.pauseTask(task: try taskName(name))) }
        }

        struct Resume: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Let a paused task take joins and run rounds again.")
            @OptionGroup var connection: AdminConnection
            @Argument(help: "The task name.") var name: String

            func run() async throws { try await connection.print(.resumeTask(task: try taskName(name))) }
        }

        struct Retire: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "End a task for good (its rounds, results and ledger stay in the store; its name stays taken).")
            @OptionGroup var connection: AdminConnection
            @Argument(help: "The task name.") var name: String

            func run() async throws { try await connection.print(.retireTask(task: try taskName(name))) }
        }

        struct TaskList: AsyncParsableCommand {
            static let configuration = CommandConfiguration(commandName: "list", abstract: "Every task, with who waits.")
            @OptionGroup var connection: AdminConnection

            func run() async throws { try await connection.print(.listTasks) }
        }

        struct Show: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "One task's definition and state.")
            @OptionGroup var connection: AdminConnection
            @Argument(help: "The task name.") var name: String

            func run() async throws { try await connection.print(.showTask(name: try taskName(name))) }
        }
    }

    struct RoundCommands: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "round", abstract: "Start, watch and list rounds.",
            subcommands: [Start.self, Watch.self, RoundList.self, Release.self])

        struct Start: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Start a round of a task now with the clients waiting (at least its min_clients).",
                discussion: """
                    With --global-round, the round is this shard's part of a root's global round \
                    (protocol/FEDERATION.md): it records the id, and `round release` then gives its signed cohort \
                    release. A task runs at most one round per global round.
                    """)
            @OptionGroup var connection: AdminConnection
            @Argument(help: "The task name.") var task: String
            @Option(name: .customLong("global-round"), help: "A root's global round id (32 hex digits).")
            var globalRound: String?

            func run() async throws {
                let name = try taskName(task)
                guard let globalRound else { return try await connection.print(.startRound(task: name)) }
                try await connection.print(.startGlobalRound(task: name, globalRound: try globalRoundID(globalRound)))
            }
        }

        struct Release: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "The signed cohort release of a task's round for a global round (for a root to combine).",
                discussion: """
                    Prints JSON: the round, its survivors, and `release`, the hex of the signed statement of \
                    protocol/FEDERATION.md section 2 (signed with the daemon's identity key). Fails, saying why, while \
                    the round runs or if it released nothing.
                    """)
            @OptionGroup var connection: AdminConnection
            @Argument(help: "The task name.") var task: String
            @Option(name: .customLong("global-round"), help: "The global round id (32 hex digits).") var globalRound: String

            func run() async throws {
                try await connection.print(.cohortRelease(task: try taskName(task), globalRound: try globalRoundID(globalRound)))
            }
        }

        struct Watch: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Follow a task's round in flight: per phase, expected, received and dropped clients.",
                discussion: """
                    Prints a line whenever the progress changes; ends when the round ends (at once if none runs, or \
                    with --once).
                    """)
            @OptionGroup var connection: AdminConnection
            @Argument(help: "The task name.") var task: String
            @Option(help: "Seconds between polls.") var interval: Double = 0.5
            @Flag(help: "Print the current state once and exit.") var once = false

            func run() async throws {
                let name = try taskName(task)
                try await connection.session { exchange in
                    var last = ""
                    while true {
                        let object = try decodeObject(try await exchange(.watchRound(task: name)))
                        let line = progressLine(object)
                        if line != last { Swift.print(line) }
                        last = line
                        let running = object["state"] as? String == "running"
                        if !running || once { return }
                        try await Task.sleep(for: .milliseconds(Int64(max(0.05, interval) * 1000)))
                    }
                }
            }
        }

        struct RoundList: AsyncParsableCommand {
            static let configuration = CommandConfiguration(commandName: "list", abstract: "The latest rounds, newest first.")
            @OptionGroup var connection: AdminConnection
            @Option(help: "Only this task's rounds.") var task: String?
            @Option(help: "At most this many.") var limit: UInt32 = 20

            func run() async throws {
                if let task, task.utf8.count > WireLimits.maximumTaskNameBytes { throw ValidationError("--task is too long") }
                try await connection.print(.listRounds(task: task ?? "", limit: limit))
            }
        }
    }

    struct ResultCommands: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "result", abstract: "Read released results.", subcommands: [Show.self, Export.self])

        struct Show: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "A round's released (noised, if DP) sum and survivors.")
            @OptionGroup var connection: AdminConnection
            @Argument(help: "The round identifier (32 hex digits).") var round: String

            func run() async throws { try await connection.print(.showResult(roundID: try roundID(round))) }
        }

        struct Export: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Write a round's released sum as JSON or CSV.")
            enum Format: String, ExpressibleByArgument { case json, csv }
            @OptionGroup var connection: AdminConnection
            @Argument(help: "The round identifier (32 hex digits).") var round: String
            @Option(help: "json (the result file's document) or csv (index,value per line; with noise also the residue).") var format: Format = .json
            @Option(help: "Output file (default: standard output).") var out: String?

            func run() async throws {
                let body = try await connection.call(.showResult(roundID: try roundID(round)))
                let text: String
                switch format {
                case .json:
                    text = body + "\n"
                case .csv:
                    let result = try decodedResult(body)
                    guard let table = result.csv else {
                        throw CommandFailure("round \(result.roundID) released no sum")
                    }
                    text = table
                }
                try writeExport(text, to: out)
            }
        }
    }

    struct BudgetCommands: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "budget", abstract: "Privacy budgets.", subcommands: [Show.self])

        struct Show: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "A task's privacy ledger: spent, remaining, every release.")
            @OptionGroup var connection: AdminConnection
            @Argument(help: "The task name.") var task: String

            func run() async throws { try await connection.print(.showBudget(task: try taskName(task))) }
        }
    }
}

/// How `secagg admin` reaches the daemon.
struct AdminConnection: ParsableArguments {
    @Option(help: "The daemon's admin listener as HOST:PORT.") var daemon: String = "127.0.0.1:7462"
    @Option(help: "The admin identity file (its public key must be in the daemon's admin.keys).") var identity: String
    @Option(name: .customLong("coordinator-key"), help: "The daemon's public key (64 hex digits).") var coordinatorKey: String
    @Option(help: "Seconds to wait for the daemon (connection, handshake, each answer).") var timeout: Double = 10

    /// Sends one request and prints the answer.
    func print(_ request: AdminRequest) async throws {
        Swift.print(try await call(request))
    }

    /// Sends one request; returns the body of a successful answer.
    ///
    /// - Throws: ``CommandFailure`` explaining an unreachable daemon, a refused key or a refused request.
    func call(_ request: AdminRequest) async throws -> String {
        try await session { exchange in try await exchange(request) }
    }

    /// Opens one authenticated session and runs `body` with a request → answer function; an answer other than ok
    /// throws ``CommandFailure`` with the daemon's sentence.
    func session<Result: Sendable>(
        _ body: (_ exchange: (AdminRequest) async throws -> String) async throws -> Result
    ) async throws -> Result {
        try await responses { exchange in
            try await withoutActuallyEscaping(exchange) { exchange in
                try await body { request in
                    let response = try await exchange(request)
                    guard response.status == .ok else { throw CommandFailure("the daemon refused: \(response.body)") }
                    return response.body
                }
            }
        }
    }

    /// Opens one authenticated session and runs `body` with a request → response function (every status but
    /// `unauthorized`, which throws, is returned as the daemon gave it).
    func responses<Result: Sendable>(
        _ body: (_ exchange: (AdminRequest) async throws -> AdminResponse) async throws -> Result
    ) async throws -> Result {
        let (host, port) = try Endpoint(parsing: daemon, option: "--daemon").pair
        let (pinned, key) = try loadConnectionKeys(peerKey: coordinatorKey, identityPath: identity)
        let client = AdminClient(
            host: host, port: port, identity: key, daemonKey: pinned, timeout: .milliseconds(Int64(max(1, timeout) * 1000)))
        do {
            return try await client.responses(body)
        } catch let error as AdminClientError {
            throw CommandFailure(error.description)
        }
    }
}

/// An export's text to `out`, or to standard output without one.
///
/// - Throws: ``CommandFailure`` if the file cannot be written.
func writeExport(_ text: String, to out: String?) throws {
    guard let out else {
        Swift.print(text, terminator: "")
        return
    }
    do {
        try text.write(toFile: out, atomically: true, encoding: .utf8)
    } catch {
        throw CommandFailure("cannot write \(out): \(error.localizedDescription)")
    }
}

private func clientKey(_ text: String) throws -> Ed25519.VerifyingKey {
    do {
        return try IdentityFile.publicKey(fromHex: text)
    } catch {
        throw ValidationError("not a public key: \(error)")
    }
}

/// A task definition from a file, or standard input for `-`.
private func readDefinition(_ file: String) throws -> String {
    let data = file == "-" ? FileHandle.standardInput.readDataToEndOfFile() : FileManager.default.contents(atPath: file)
    guard let data, let text = String(data: data, encoding: .utf8) else {
        throw CommandFailure("cannot read \(file)")
    }
    guard text.utf8.count <= maximumTaskDefinitionBytes else {
        throw CommandFailure("\(file) is over \(maximumTaskDefinitionBytes) bytes")
    }
    return text
}

func taskName(_ name: String) throws -> String {
    guard (1...WireLimits.maximumTaskNameBytes).contains(name.utf8.count) else {
        throw ValidationError("task names are 1...\(WireLimits.maximumTaskNameBytes) bytes")
    }
    return name
}

func globalRoundID(_ text: String) throws -> GlobalRoundID {
    guard let id = GlobalRoundID(hex: text) else {
        throw ValidationError("a global round id is 32 hex digits (16 bytes), not '\(text)'")
    }
    return id
}

private func roundID(_ text: String) throws -> RoundID {
    guard let bytes = bytes(fromHex: text), let id = RoundID(bytes: bytes) else {
        throw ValidationError("a round identifier is 32 hex digits")
    }
    return id
}

/// The daemon's ``PublishedResult`` document.
private func decodedResult(_ body: String) throws -> PublishedResult {
    do {
        return try PublishedResult.decoded(Data(body.utf8))
    } catch {
        throw CommandFailure("the daemon's answer is not a round result: \(error)")
    }
}

private func decodeObject(_ body: String) throws -> [String: Any] {
    guard let object = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any] else {
        throw CommandFailure("the daemon's answer is not a JSON object")
    }
    return object
}

/// One line of `round watch`: the open phase's counts and the drops so far, or how the round ended.
private func progressLine(_ object: [String: Any]) -> String {
    let round = object["round_id"] as? String ?? "-"
    let dropped = (object["dropped_per_phase"] as? [String: Any] ?? [:])
        .sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
    let drops = dropped.isEmpty ? "none" : dropped
    switch object["state"] as? String {
    case "running":
        guard let phase = object["phase"] as? String else { return "round \(round): starting" }
        return "round \(round): phase \(phase): expected \(object["expected"] ?? 0), received \(object["received"] ?? 0), "
            + "required \(object["required"] ?? 0); dropped: \(drops)"
    case "idle":
        return "task \(object["task"] ?? "?"): no round yet; \(object["waiting"] ?? 0) client(s) waiting"
    case let state?:
        var line = "round \(round): \(state)"
        if let survivors = object["survivors"] as? Int { line += ", \(survivors) survivors" }
        if let reason = object["abort_reason"] as? String { line += ": \(reason)" }
        return line + "; dropped: \(drops)"
    case nil:
        return "round \(round): unknown state"
    }
}
