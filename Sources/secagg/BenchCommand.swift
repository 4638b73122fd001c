import ArgumentParser
import Foundation
import SecAggCrypto
import SecAggSimulation

/// `secagg bench`: speed targets live here, never in timed unit tests (README "Benchmarks").
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Benchmarks: mask expansion against raw ChaCha20, and simulated rounds.",
        subcommands: [MaskBench.self, PrimitivesBench.self, RoundBench.self, SwarmCommand.self, SoakCommand.self, FloodCommand.self],
        defaultSubcommand: MaskBench.self
    )
}

/// Mask PRG throughput next to the raw libsodium ChaCha20 keystream, in the same run.
struct MaskBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mask",
        abstract: "Mask expansion (expand-and-add into a vector) against the raw ChaCha20 keystream rate."
    )

    @Option(help: "Lanes per vector.") var lanes: Int = 1_000_000
    @Option(help: "Repetitions per measurement (the best is reported).") var repetitions: Int = 7
    @Flag(help: "Print one JSON object.") var json = false

    func run() throws {
        var random = SystemRandom()
        let key = SymmetricKey(using: &random)
        let clock = ContinuousClock()
        let nonce = [UInt8](repeating: 0, count: ChaCha20.nonceByteCount)

        func best(_ body: () -> Void) -> Double {
            var fastest = Double.infinity
            for _ in 0..<max(1, repetitions) {
                let start = clock.now
                body()
                let elapsed = clock.now - start
                let (seconds, attoseconds) = elapsed.components
                fastest = min(fastest, Double(seconds) + Double(attoseconds) * 1e-18)
            }
            return fastest
        }

        let keystreamBytes = lanes * 4
        let raw = UnsafeMutableRawBufferPointer.allocate(byteCount: keystreamBytes, alignment: 64)
        defer { raw.deallocate() }
        raw.initializeMemory(as: UInt8.self, repeating: 0)
        let rawSeconds = best { ChaCha20.fillKeystream(key: key, nonce: nonce, counter: 0, into: raw) }

        var narrow = [UInt32](repeating: 0, count: lanes)
        let narrowSeconds = best {
            narrow.withUnsafeMutableBufferPointer { MaskExpander.apply(seed: key, to: $0, bits: 32, direction: .add) }
        }
        var narrowPartial = [UInt32](repeating: 0, count: lanes)
        let partialSeconds = best {
            narrowPartial.withUnsafeMutableBufferPointer { MaskExpander.apply(seed: key, to: $0, bits: 20, direction: .add) }
        }
        var wide = [UInt64](repeating: 0, count: lanes / 2)
        let wideSeconds = best {
            wide.withUnsafeMutableBufferPointer { MaskExpander.apply(seed: key, to: $0, bits: 64, direction: .subtract) }
        }
        // A client's masked input at Flower's workload: 19 masks (self + 18 neighbours) over 100,001 lanes, in one
        // chunk-by-chunk pass (MaskExpander.apply(_:to:bits:)).
        let maskCount = 19
        let keys = (0..<maskCount).map { position -> MaskExpander.Mask in
            (SymmetricKey(using: &random), position % 2 == 0 ? .add : .subtract)
        }
        var client = [UInt32](repeating: 0, count: 100_001)
        let clientSeconds = best { client.withUnsafeMutableBufferPointer { MaskExpander.apply(keys, to: $0, bits: 32) } }
        let mebibyte = 1024.0 * 1024.0
        let clientRate = Double(maskCount * client.count * 4) / clientSeconds / mebibyte
        let rawRate = Double(keystreamBytes) / rawSeconds / mebibyte
        let narrowRate = Double(keystreamBytes) / narrowSeconds / mebibyte
        let partialRate = Double(keystreamBytes) / partialSeconds / mebibyte
        let wideRate = Double(keystreamBytes) / wideSeconds / mebibyte
        if json {
            let object: [String: Any] = [
                "keystream_bytes": keystreamBytes,
                "raw_chacha20_mib_s": rawRate,
                "mask_u32_bits32_mib_s": narrowRate, "mask_u32_bits20_mib_s": partialRate, "mask_u64_bits64_mib_s": wideRate,
                "ratio_u32": narrowRate / rawRate, "ratio_u32_bits20": partialRate / rawRate, "ratio_u64": wideRate / rawRate,
                "masks19_u32_mib_s": clientRate, "ratio_masks19_u32": clientRate / rawRate,
            ]
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        } else {
            print("keystream per measurement: \(keystreamBytes) bytes, best of \(repetitions)")
            print(String(format: "raw ChaCha20-IETF keystream (libsodium): %8.1f MiB/s", rawRate))
            print(String(format: "mask add, UInt32 lanes, bits 32:        %8.1f MiB/s  (%.2f× raw)", narrowRate, narrowRate / rawRate))
            print(String(format: "mask add, UInt32 lanes, bits 20:        %8.1f MiB/s  (%.2f× raw)", partialRate, partialRate / rawRate))
            print(String(format: "mask subtract, UInt64 lanes, bits 64:   %8.1f MiB/s  (%.2f× raw)", wideRate, wideRate / rawRate))
            print(String(format: "19 masks in one pass, 100,001 lanes:    %8.1f MiB/s  (%.2f× raw)", clientRate, clientRate / rawRate))
        }
    }
}

/// Cost of each public-key operation a round performs per neighbour.
struct PrimitivesBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "primitives", abstract: "Microseconds per X25519 agreement, Ed25519 signature and verification.")

    @Option(help: "Operations per measurement.") var count: Int = 2000
    @Option(help: "Measurements per operation; the fastest is reported (a crypto floor is a lower bound).")
    var repetitions: Int = 5
    @Flag(help: "Print one JSON object (µs per operation), as Benchmarks/floor.py reads it.") var json = false

    func run() throws {
        var random = SystemRandom()
        let clock = ContinuousClock()
        func microseconds(_ body: () -> Void) -> Double {
            var fastest = Double.infinity
            for _ in 0..<max(1, repetitions) {
                let start = clock.now
                body()
                let (seconds, attoseconds) = (clock.now - start).components
                fastest = min(fastest, (Double(seconds) + Double(attoseconds) * 1e-18) * 1e6 / Double(count))
            }
            return fastest
        }
        let first = X25519.PrivateKey(using: &random)
        let second = X25519.PrivateKey(using: &random).publicKey
        let signer = Ed25519.SigningKey(using: &random)
        let message = [UInt8](repeating: 7, count: 200)
        let signature = signer.signature(for: message)
        let verifier = signer.verifyingKey
        let raw = verifier.rawRepresentation
        var sink = 0
        let agreement = microseconds { for _ in 0..<count { if (try? first.sharedSecret(with: second)) != nil { sink += 1 } } }
        let base = microseconds { for _ in 0..<count { sink &+= Int(X25519.PrivateKey(using: &random).publicKey.rawRepresentation[0]) } }
        let sign = microseconds { for _ in 0..<count { sink &+= Int(signer.signature(for: message).rawRepresentation[0]) } }
        let verify = microseconds { for _ in 0..<count { if verifier.isValidSignature(signature, for: message) { sink += 1 } } }
        let parse = microseconds {
            for _ in 0..<count {
                if let key = try? Ed25519.VerifyingKey(rawRepresentation: raw), key.isPrimeOrderPoint { sink += 1 }
            }
        }
        if json {
            let object: [String: Any] = [
                "x25519_agreement_us": agreement, "x25519_keygen_us": base, "ed25519_sign_us": sign,
                "ed25519_verify_us": verify, "ed25519_validate_us": parse,
            ]
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
            return
        }
        print(String(format: "X25519 agreement:              %7.1f µs", agreement))
        print(String(format: "X25519 key generation:         %7.1f µs", base))
        print(String(format: "Ed25519 signature:             %7.1f µs", sign))
        print(String(format: "Ed25519 verification:          %7.1f µs", verify))
        print(String(format: "Ed25519 key validation (enrollment): %7.1f µs", parse))
        if sink == -1 { print("") }
    }
}

/// A simulated round with Flower's workload parameters, for the comparison script in Benchmarks/.
struct RoundBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "round",
        abstract: "Time a simulated round (same options as Flower's harness: N, M, K including self, T, D).",
        discussion: """
            K counts the client itself, as in Flower's SecAgg+ (a ring neighbourhood of K nodes), so the Harary \
            degree used is K − 1. D clients drop after sending their shares (Flower's --drop-at masked_input).
            """
    )

    @Option(name: .customLong("N"), help: "Clients.") var clients: Int = 500
    @Option(name: .customLong("M"), help: "Vector length (Flower adds one weight entry; so do we).") var dimension: Int = 100_000
    @Option(name: .customLong("K"), help: "Neighbourhood size including the client itself.") var neighbourhood: Int = 19
    @Option(name: .customLong("T"), help: "Reconstruction threshold.") var threshold: Int = 10
    @Option(name: .customLong("D"), help: "Dropout fraction.") var dropout: Double = 0.1
    @Option(help: "Seed.") var seed: UInt64 = 1

    func run() async throws {
        var configuration = SimulationConfiguration()
        configuration.clients = clients
        configuration.dimension = dimension + 1
        configuration.bits = 32
        configuration.dropoutRate = dropout
        configuration.dropPhase = .masked
        configuration.harary = true
        configuration.neighbors = .fixed(neighbourhood - 1)
        configuration.threshold = .fixed(threshold)
        configuration.seed = seed
        configuration.workers = ProcessInfo.processInfo.activeProcessorCount
        let simulator: RoundSimulator
        do throws(SimulationConfigurationError) {
            simulator = try RoundSimulator(configuration: configuration)
        } catch {
            throw ValidationError(error.description)
        }
        let report = await simulator.run()
        var object = SimulationOutput(report).jsonObject
        object["peak_rss_mib"] = peakResidentMebibytes()
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        print(String(decoding: data, as: UTF8.self))
        if !report.verified { throw ExitCode(1) }
    }
}

/// Peak resident set size of this process, in MiB (getrusage).
func peakResidentMebibytes() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_maxrss) / 1024.0
}
