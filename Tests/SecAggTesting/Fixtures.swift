import Foundation
import Logging
import SecAggCoordinator
import SecAggCrypto
import SecAggIdentity
import SecAggPrivacy
import SecAggSimulation
import SecAggWire

/// Files and folders for one test.
package enum TestFiles {
    /// A fresh folder for one test's files.
    package static func folder() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("secagg-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// A fresh database path in a temporary folder (removed with the folder by the caller).
    package static func temporaryStorePath() throws -> (folder: URL, path: String) {
        let folder = try folder()
        return (folder, folder.appendingPathComponent("store.sqlite").path)
    }

    /// The lines of a text file (an audit log).
    package static func lines(_ path: String) throws -> [String] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map(String.init)
    }

    /// A folder with a coordinator identity, and a minimal valid daemon configuration text for it (one task `t`,
    /// the harness's first honest client enrolled), with `extra` appended.
    package static func daemonConfiguration(extra: String = "") throws -> (URL, String) {
        let folder = try folder()
        _ = try IdentityFile.create(at: folder.appendingPathComponent("coordinator.key").path)
        let client = ServiceHarness.honest[0].verifyingKey
        let text = """
            identity: coordinator.key
            enrollment:
              keys: ["\(client)"]
            tasks:
              - name: t
                dimension: 4
                max_input: 10
                min_clients: 3
                max_clients: 3
            \(extra)
            """
        return (folder, text)
    }
}

/// Audit logs in tests.
package enum AuditFiles {
    package static let logger = Logger(label: "test.audit") { _ in SwiftLogNoOpLogHandler() }

    /// Opens a log this process closed a moment ago. A process that another test forks at that moment holds a copy
    /// of the closed descriptor, and with it the log's lock, until it executes its program (the tests run in
    /// parallel with process tests), so opening is retried for up to 5 s before its error is thrown. The daemon
    /// itself never forks.
    package static func reopen(_ path: String) throws -> AuditLog {
        let deadline = ContinuousClock.now + .seconds(5)
        while ContinuousClock.now < deadline {
            if let log = try? AuditLog(path: path, logger: logger) { return log }
            Thread.sleep(forTimeInterval: 0.05)
        }
        return try AuditLog(path: path, logger: logger)
    }
}

/// Deterministic identities and store records.
package enum Fixtures {
    /// `count` identities, the same for the same seed.
    package static func identities(_ count: Int, seed: UInt64) -> [Ed25519.SigningKey] {
        (0..<count).map { index in
            var random = SeededRandom(seed: seed, stream: "network-identity-\(index)")
            return Ed25519.SigningKey(using: &random)
        }
    }

    /// A round id of 16 equal bytes.
    package static func roundID(_ seed: UInt8) -> RoundID {
        RoundID(bytes: [UInt8](repeating: seed, count: 16))!
    }

    /// Small valid round parameters for store records.
    package static func parameters(_ id: RoundID, task: String, noise: NoiseParameters = .none) -> RoundParameters {
        RoundParameters(
            roundID: id, taskName: task, dimension: 3, bits: 32, maximumInput: 10, graph: .complete, threshold: 2,
            minimumSurvivors: 3, mode: .honestButCurious, invitedCount: 4, nonce: [UInt8](repeating: 7, count: 32),
            noise: noise)
    }

    /// A ledger with one charged round of `placement`.
    package static func chargedLedger(_ id: RoundID, placement: NoisePlacement) throws -> PrivacyBudget {
        var ledger = try PrivacyBudget(epsilon: 10, delta: 1e-6)
        try ledger.charge(
            roundID: "\(id)", placement: placement, rho: 0.1, sigma: 5, localSigma: placement == .distributed ? 2.5 : nil,
            minimumSurvivors: 3, clip: 10, bits: 32)
        return ledger
    }
}
