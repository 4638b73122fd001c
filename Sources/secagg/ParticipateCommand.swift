import ArgumentParser
import Foundation
import Logging
import SecAggClient
import SecAggCrypto
import SecAggIdentity
import SecAggProtocol
import SecAggTransport
import SecAggWire
import UnixSignals

/// `secagg participate`: join the next round of a task with one input vector.
struct ParticipateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "participate",
        abstract: "Contribute one vector to the next round of a task on a coordinator.",
        discussion: """
            The input is a JSON array of non-negative integers, one CSV line, or (with --raw) little-endian \
            64-bit integers. Prints the receipt, or one line on standard error saying what went wrong. If the \
            connection is lost after the masked input was sent, it asks the coordinator on a new connection \
            (SPEC 4.10) and reports the signed answer. SIGTERM or SIGINT stops it: in a round it tells the \
            coordinator it leaves (ClientAbort, cancelled).

            Exit codes: 0 completed, this input is in the released sum; 1 other error (bad input file, identity \
            file, internal); 3 the round aborted; 4 lost after the masked input was sent and whether it was \
            counted is unknown (do not submit it again blindly); 5 dropped or not counted (safe to submit again); \
            6 no round started in time, or a timeout; 7 coordinator unreachable; 8 handshake failed, wrong \
            coordinator key, or the coordinator broke the protocol; 9 connection lost before the input was sent; \
            10 not enrolled (or not endorsed); 11 revoked; 12 no such task; 13 the task's queue is full (later); \
            14 the coordinator is stopping or the task runs no more rounds (later); 15 this identity is already \
            connected (later); 64 bad arguments; 130/143 stopped by SIGINT/SIGTERM.
            """)

    @Option(help: "Coordinator address as HOST:PORT.") var coordinator: String
    @Option(name: .customLong("coordinator-key"), help: "The coordinator's public key (64 hex digits).")
    var coordinatorKey: String
    @Option(help: "This client's identity file.") var identity: String
    @Option(help: "Task name.") var task: String
    @Option(help: "Input file, or - for standard input.") var input: String
    @Flag(help: "Input is raw little-endian 64-bit integers.") var raw = false
    @Flag(help: "Print the receipt as JSON.") var json = false
    @Option(name: .customLong("enrollment-authority"),
            help: "The enrollment authority's public key: accept only neighbours it endorsed (SPEC 2.1).")
    var enrollmentAuthority: String?
    @Option(name: .customLong("min-threshold"), help: "Refuse rounds whose Shamir threshold is below this.")
    var minimumThreshold: UInt32 = ClientPolicy().minimumThreshold
    @Option(name: .customLong("min-survivors"),
            help: "Refuse rounds that accept fewer survivors than this (the smallest cohort this input is summed with).")
    var minimumSurvivors: UInt32 = ClientPolicy().minimumSurvivors
    @Flag(name: .customLong("require-active-mode"), help: "Join only rounds with the consistency check (active mode).")
    var requireActiveMode = false
    @Option(name: .customLong("min-local-noise"),
            help: "Join only distributed-noise rounds in which this client adds at least this noise variance itself.")
    var minimumLocalNoise: Double?
    @Option(name: .customLong("connect-attempts"), help: "Connection attempts before giving up.") var attempts: Int = 5
    @Option(name: .customLong("log-level"), help: "Log level on standard error.") var logLevel: String = "warning"

    func run() async throws {
        let level = Logger.Level(rawValue: logLevel) ?? .warning
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let (host, port) = try Endpoint(parsing: coordinator, option: "--coordinator").pair
        let (pinned, key) = try loadConnectionKeys(peerKey: coordinatorKey, identityPath: identity)
        let values = try readInput()
        let authority: Ed25519.VerifyingKey?
        do {
            authority = try enrollmentAuthority.map { try IdentityFile.publicKey(fromHex: $0) }
        } catch {
            throw ValidationError("--enrollment-authority: \(error)")
        }
        var policy = ClientPolicy(
            enrollmentAuthority: authority, minimumThreshold: minimumThreshold, minimumSurvivors: minimumSurvivors,
            requireActiveMode: requireActiveMode)
        if let minimumLocalNoise {
            guard let floor = NoiseVariance(roundingUp: minimumLocalNoise) else {
                throw ValidationError("--min-local-noise must be a positive variance up to 2^40")
            }
            policy.minimumLocalNoise = floor
        }
        let client = SecAggClient(
            configuration: SecAggClientConfiguration(
                host: host, port: port, coordinatorKey: pinned, identity: key, task: task, policy: policy,
                connectAttempts: attempts),
            logger: Logger(label: "secagg.participate"))
        // SIGTERM and SIGINT stop the client: in a round it leaves with ClientAbort (cancelled), so the coordinator
        // drops it at once; it exits 128 + the signal's number, as a shell reports a process killed by it.
        let signals = await UnixSignalsSequence(trapping: .sigterm, .sigint)
        do {
            let ending = try await withThrowingTaskGroup(of: Ending?.self) { group in
                group.addTask { .receipt(try await client.participate(input: values)) }
                group.addTask {
                    for await signal in signals { return .stopped(signal) }
                    return nil
                }
                while let next = try await group.next() {
                    if let next {
                        group.cancelAll()
                        return next
                    }
                }
                throw CancellationError()
            }
            guard case let .receipt(receipt) = ending else {
                if case let .stopped(signal) = ending {
                    FileHandle.standardError.write(Data("secagg participate: stopped by \(signal); left the round\n".utf8))
                    throw ExitCode(128 + signal.rawValue)
                }
                throw ExitCode(1)
            }
            let round = receipt.roundID.map { "\($0)" } ?? "-"
            switch receipt.outcome {
            case let .completed(survivors):
                print(json ? #"{"outcome":"completed","round_id":"\#(round)","participant":\#(receipt.participant ?? 0),"survivors":\#(survivors)}"#
                      : "round \(round): completed, this input is in the sum of \(survivors) clients")
            case let .aborted(code, reason):
                print(json ? #"{"outcome":"aborted","round_id":"\#(round)","abort_code":"\#(AbortCode.hex(code))","abort_name":\#(jsonString(AbortCode(rawValue: code)?.name ?? "unknown")),"abort_reason":\#(jsonString(reason))}"#
                      : "round \(round): aborted, \(AbortCode.rendering(code)): \(reason)")
                throw ExitCode(3)
            }
        } catch let error as SecAggClientError {
            FileHandle.standardError.write(Data("secagg participate: \(error)\n".utf8))
            throw ExitCode(Self.exitCode(of: error))
        } catch let error as TransportError {
            FileHandle.standardError.write(Data("secagg participate: \(error)\n".utf8))
            throw ExitCode(Self.exitCode(of: error))
        }
    }

    /// The documented exit code of a participation that ended without a receipt (the command's discussion lists
    /// them; README repeats the table).
    static func exitCode(of error: SecAggClientError) -> Int32 {
        switch error {
        case .outcomeUnknown: return 4
        case .dropped, .notCounted: return 5
        case .notAdmitted: return 6
        case .unreachable: return 7
        case .coordinatorViolation: return 8
        case .connectionLost: return 9
        case let .joinRefused(refusal, _):
            switch refusal {
            case .notEnrolled, .notEndorsed: return 10
            case .revoked: return 11
            case .unknownTask: return 12
            case .queueFull: return 13
            case .shuttingDown: return 14
            case .alreadyJoined: return 15
            }
        }
    }

    /// The exit code of a transport failure: as its ``SecAggClientError`` counterpart.
    static func exitCode(of error: TransportError) -> Int32 {
        switch error {
        case .handshakeFailed, .peerRejected, .malformedHandshakePayload, .decryptionFailed, .messageTooLarge,
             .malformedMessage, .unexpectedMessage:
            return 8
        case .handshakeTimedOut, .idleTimeout, .messageTooSlow: return 6
        case .connectionClosed, .truncatedFrame, .sendInterrupted: return 9
        case .frameTooLarge, .encryptionFailed, .sendTooLarge: return 1
        }
    }

    /// How a participation ended: with the coordinator's receipt, or stopped by a signal.
    private enum Ending: Sendable {
        case receipt(ParticipationReceipt)
        case stopped(UnixSignal)
    }

    private func readInput() throws -> [UInt64] {
        let data: Data
        if input == "-" {
            data = FileHandle.standardInput.readDataToEndOfFile()
        } else {
            guard let contents = FileManager.default.contents(atPath: input) else {
                throw ValidationError("cannot read \(input)")
            }
            data = contents
        }
        if raw {
            guard data.count % 8 == 0 else { throw ValidationError("raw input must be a multiple of 8 bytes") }
            return stride(from: 0, to: data.count, by: 8).map { offset in
                data[data.startIndex + offset..<data.startIndex + offset + 8].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            }
        }
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        if text.hasPrefix("[") {
            guard let array = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [NSNumber],
                  array.allSatisfy({ $0.int64Value >= 0 && $0.doubleValue == Double($0.uint64Value) }) else {
                throw ValidationError("the JSON input must be an array of non-negative integers")
            }
            return array.map(\.uint64Value)
        }
        let fields = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        let values = fields.compactMap { UInt64($0) }
        guard values.count == fields.count, !values.isEmpty else {
            throw ValidationError("the CSV input must be one line of non-negative integers")
        }
        return values
    }
}

private func jsonString(_ text: String) -> String {
    guard let data = try? JSONSerialization.data(withJSONObject: [text]), let array = String(data: data, encoding: .utf8) else {
        return "\"\""
    }
    return String(array.dropFirst().dropLast())
}
