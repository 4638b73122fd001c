import Foundation
import Logging
import SecAggCoordinator
import SecAggCrypto
import SecAggPrivacy
import SecAggProtocol
import SecAggSimulation
import SecAggWire
import SecAggTesting
import Testing

/// The coordinator's SQLite store: schema migrations, every record type written and read back, and the rules that
/// make a crash at any moment safe (nothing released is lost or doubled; interrupted rounds are aborted and their
/// privacy charge settled as the ledger's rules say).
@Suite("Coordinator store")
struct StoreTests {
    @Test("a new database gets every migration once; reopening keeps the data and applies none again")
    func migrations() throws {
        let (folder, path) = try TestFiles.temporaryStorePath()
        defer { try? FileManager.default.removeItem(at: folder) }
        let key = Fixtures.identities(1, seed: 3)[0].verifyingKey
        do {
            let store = try CoordinatorStore(path: path)
            #expect(try store.appliedMigrations() == ["v1", "v2-published", "v3-task-state", "v4-round-encoder", "v5-client-endorsement", "v6-round-global"])
            try store.enroll(key, label: "first", actor: "test")
        }
        let reopened = try CoordinatorStore(path: path)
        #expect(try reopened.appliedMigrations() == ["v1", "v2-published", "v3-task-state", "v4-round-encoder", "v5-client-endorsement", "v6-round-global"])
        #expect(reopened.label(of: key) == "first")
        // WAL journal: the -wal file sits next to the database while it is open.
        #expect(FileManager.default.fileExists(atPath: path + "-wal"))
    }

    @Test("a second process (or store) cannot open a store in use; it can once the first is closed")
    func oneUserAtATime() throws {
        let (folder, path) = try TestFiles.temporaryStorePath()
        defer { try? FileManager.default.removeItem(at: folder) }
        do {
            let first = try CoordinatorStore(path: path)
            #expect(throws: StoreError.unusable(path: path, reason: "another process (a running secaggd?) has it open")) {
                try CoordinatorStore(path: path)
            }
            _ = first
        }
        _ = try CoordinatorStore(path: path)
    }

    @Test("a file that is not a database is refused with a clear error")
    func notADatabase() throws {
        let (folder, path) = try TestFiles.temporaryStorePath()
        defer { try? FileManager.default.removeItem(at: folder) }
        try Data(repeating: 0x41, count: 4096).write(to: URL(fileURLWithPath: path))
        #expect(throws: StoreError.self) { try CoordinatorStore(path: path) }
    }

    @Test("clients: enroll, relabel, revoke, re-enroll; the configuration cannot un-revoke a key")
    func clients() throws {
        let store = try CoordinatorStore.inMemory()
        let keys = Fixtures.identities(3, seed: 4).map(\.verifyingKey)
        #expect(try store.enroll(keys[0], label: "a", actor: "admin x"))
        #expect(try !store.enroll(keys[0], label: "a2", actor: "admin x"))
        #expect(store.label(of: keys[0]) == "a2")
        #expect(try store.revoke(keys[0], actor: "admin x"))
        #expect(try !store.revoke(keys[0], actor: "admin x"))
        #expect(store.label(of: keys[0]) == nil)
        let seeded = try store.seed(clients: [keys[0]: "config-a", keys[1]: "config-b"])
        #expect(seeded.added == [keys[1]])
        #expect(seeded.revoked == [keys[0]])
        #expect(store.label(of: keys[0]) == nil)
        #expect(store.label(of: keys[1]) == "config-b")
        #expect(try store.enroll(keys[0], label: "back", actor: "admin y"))
        #expect(store.label(of: keys[0]) == "back")
        let all = try store.clients()
        #expect(all.count == 2)
        let first = try #require(all.first { $0.publicKey == "\(keys[0])" })
        #expect(first.revokedAt == nil && first.enrolledBy == "admin y" && first.label == "back")
        #expect(store.activeClientCount == 2)
        #expect(store.label(of: keys[2]) == nil)
    }

    @Test("tasks: saved, replaced and listed")
    func tasks() throws {
        let store = try CoordinatorStore.inMemory()
        #expect(try store.saveTask(name: "b", definition: #"{"name":"b"}"#, source: "admin"))
        #expect(try store.saveTask(name: "a", definition: #"{"name":"a"}"#, source: "config"))
        #expect(try !store.saveTask(name: "b", definition: #"{"name":"b","dimension":2}"#, source: "admin"))
        let tasks = try store.tasks()
        #expect(tasks.map(\.name) == ["a", "b"])
        #expect(tasks[1].definition == #"{"name":"b","dimension":2}"#)
        #expect(tasks[0].source == "config")
    }

    @Test("a round's life: charge, start, phases, release, finish — every field reads back")
    func roundRoundTrip() throws {
        let store = try CoordinatorStore.inMemory()
        let id = Fixtures.roundID(1)
        var ledger = try Fixtures.chargedLedger(id, placement: .central)
        try store.commitCharge(ledger, task: "t", roundID: id)
        #expect(try store.round(id: "\(id)")?.state == "running")
        let parameters = Fixtures.parameters(id, task: "t")
        try store.recordRoundStarting(task: "t", parameters: parameters, identities: ["k1", "k2", "k3", "k4"])
        try store.recordPhase(task: "t", roundID: id, phase: .advertiseKeys, participants: 4)
        try store.recordPhase(task: "t", roundID: id, phase: .shareKeys, participants: 4)
        try store.recordPhase(task: "t", roundID: id, phase: .maskedInputCollection, participants: 3)
        try store.recordPhase(task: "t", roundID: id, phase: .unmasking, participants: 3)
        try ledger.recordRelease(roundID: "\(id)", survivors: 3)
        let sum: [UInt64] = [1, UInt64.max, 1 << 40]
        try store.commitRelease(
            task: "t", roundID: id, sum: sum, survivorIdentities: ["k1", "k2", "k4"], noise: "central", ledger: ledger)
        var summary = Self.summary(id, task: "t", completed: true)
        summary.droppedPerPhase = ["advertise": 0, "share": 1]
        try store.commitFinish(summary, ledger: nil)

        let round = try #require(try store.round(id: "\(id)"))
        #expect(round.state == "completed")
        #expect(round.parameters == parameters)
        #expect(round.identities == ["k1", "k2", "k3", "k4"])
        #expect(round.reachedPhase == .unmasking)
        #expect(round.phaseParticipants == ["advertise": 4, "share": 4, "masked": 3, "unmask": 3])
        #expect(round.droppedPerPhase == ["advertise": 0, "share": 1])
        #expect(round.phaseSeconds["masked"] == 0.5)
        #expect(round.survivors == 3)
        #expect(round.abortCode == nil && round.abortReason == nil)
        let result = try #require(try store.result(roundID: "\(id)"))
        #expect(result.sum == sum)
        #expect(result.survivorIdentities == ["k1", "k2", "k4"])
        #expect(result.noise == "central")
        #expect(try store.ledger(task: "t") == ledger)
        #expect(try store.rounds(task: "t").map(\.roundID) == ["\(id)"])
        #expect(try store.rounds(task: "other").isEmpty)
    }

    /// What the coordinator records when a round ends: completed (with `sum`) or aborted in masked-input collection.
    static func summary(_ id: RoundID, task: String, completed: Bool) -> RoundSummary {
        RoundSummary(
            task: task, roundID: "\(id)", phaseSeconds: ["masked": 0.5], survivors: completed ? 3 : nil,
            abortCode: completed ? nil : Int(AbortCode.tooFewMaskedInputs.rawValue),
            abortReason: completed ? nil : "only 2",
            abortPhase: completed ? nil : Int(RoundPhase.maskedInputCollection.rawValue))
    }

    @Test("a release committed twice is stored once; finishing keeps it completed")
    func releaseIsNotDoubled() throws {
        let store = try CoordinatorStore.inMemory()
        let id = Fixtures.roundID(2)
        let parameters = Fixtures.parameters(id, task: "t")
        try store.recordRoundStarting(task: "t", parameters: parameters, identities: [])
        for _ in 0..<2 {
            try store.commitRelease(task: "t", roundID: id, sum: [5], survivorIdentities: ["k"], noise: "none", ledger: nil)
        }
        try store.commitFinish(Self.summary(id, task: "t", completed: true), ledger: nil)
        #expect(try store.resultCount() == 1)
        #expect(try store.round(id: "\(id)")?.state == "completed")
        // Recovery after the fact changes nothing.
        #expect(try store.recoverInterruptedRounds(reason: "coordinator restarted").isEmpty)
        #expect(try store.round(id: "\(id)")?.state == "completed")
    }

    @Test("an aborted round records its reason and phase")
    func abortRecorded() throws {
        let store = try CoordinatorStore.inMemory()
        let id = Fixtures.roundID(3)
        let parameters = Fixtures.parameters(id, task: "t")
        try store.recordRoundStarting(task: "t", parameters: parameters, identities: [])
        try store.commitFinish(Self.summary(id, task: "t", completed: false), ledger: nil)
        let round = try #require(try store.round(id: "\(id)"))
        #expect(round.state == "aborted")
        #expect(round.abortCode == Int(AbortCode.tooFewMaskedInputs.rawValue))
        #expect(round.abortReason == "only 2")
        #expect(round.abortPhase == .maskedInputCollection)
        #expect(try store.result(roundID: "\(id)") == nil)
    }

    /// (placement, last phase recorded before the crash, expected status of the ledger entry after recovery).
    static let crashCases: [(NoisePlacement, RoundPhase?, BudgetEntry.Status)] = [
        (.distributed, nil, .refunded),
        (.distributed, .shareKeys, .refunded),
        (.distributed, .maskedInputCollection, .aborted),
        (.distributed, .unmasking, .aborted),
        (.central, .unmasking, .refunded),
    ]

    @Test("after a crash, a round in flight is aborted and its charge settled by how far it got", arguments: 0..<5)
    func crashRecovery(_ index: Int) throws {
        let (placement, phase, expected) = Self.crashCases[index]
        let (folder, path) = try TestFiles.temporaryStorePath()
        defer { try? FileManager.default.removeItem(at: folder) }
        let id = Fixtures.roundID(9)
        do {
            let store = try CoordinatorStore(path: path)
            try store.commitCharge(try Fixtures.chargedLedger(id, placement: placement), task: "dp", roundID: id)
            if let phase {
                try store.recordRoundStarting(task: "dp", parameters: Fixtures.parameters(id, task: "dp"), identities: [])
                for step in RoundPhase.allCases where step.rawValue <= phase.rawValue {
                    try store.recordPhase(task: "dp", roundID: id, phase: step, participants: 4)
                }
            }
            // The process dies here: the store is dropped without finishing the round.
        }
        let store = try CoordinatorStore(path: path)
        let interrupted = try store.recoverInterruptedRounds(reason: "coordinator restarted")
        #expect(interrupted.map(\.roundID) == ["\(id)"])
        #expect(interrupted.first?.reachedPhase == phase)
        let round = try #require(try store.round(id: "\(id)"))
        #expect(round.state == "aborted")
        #expect(round.abortReason == "coordinator restarted")
        #expect(round.abortCode == Int(AbortCode.cancelled.rawValue))
        let ledger = try #require(try store.ledger(task: "dp"))
        #expect(ledger.entries.count == 1)
        #expect(ledger.entries.first?.status == expected)
        // A second recovery (another crash right after) changes nothing.
        #expect(try store.recoverInterruptedRounds(reason: "again").isEmpty)
        #expect(try store.ledger(task: "dp") == ledger)
    }

    @Test("a service on a store imports an existing privacy-ledger.json once, then the store is the source of truth")
    func ledgerFileImported() async throws {
        let (folder, path) = try TestFiles.temporaryStorePath()
        defer { try? FileManager.default.removeItem(at: folder) }
        var saved = try PrivacyBudget(epsilon: 2, delta: 1e-6)
        try saved.charge(roundID: "old", placement: .central, rho: 0.05, sigma: 3, minimumSurvivors: 2, clip: 1, bits: 32)
        try saved.recordRelease(roundID: "old", survivors: 2)
        let results = folder.appendingPathComponent("results")
        try ResultWriter(directory: results).saveLedger(saved, task: "dp")
        let task = TaskConfiguration(
            name: "dp", dimension: 4, maximumInput: 1, graph: .complete, minimumClients: 3, maximumClients: 3,
            privacy: TaskPrivacy(placement: .central, epsilonPerRound: 0.5, delta: 1e-6, l2Sensitivity: 2, budgetEpsilon: 2))
        var settings = CoordinatorSettings(
            port: 0, identity: Fixtures.identities(1, seed: 8)[0], enrolled: [:], tasks: [task],
            resultsDirectory: results)
        settings.storePath = path
        do {
            let first = try CoordinatorService(settings: settings, logger: Logger(label: "test"))
            #expect(await first.privacyLedger(of: "dp") == saved)
            #expect(try first.store.ledger(task: "dp") == saved)
        }
        // A later file does not override the store.
        var other = try PrivacyBudget(epsilon: 2, delta: 1e-6)
        try other.charge(roundID: "forged", placement: .central, rho: 0.01, sigma: 3, minimumSurvivors: 2, clip: 1, bits: 32)
        try ResultWriter(directory: results).saveLedger(other, task: "dp")
        let second = try CoordinatorService(settings: settings, logger: Logger(label: "test"))
        #expect(await second.privacyLedger(of: "dp") == saved)
    }
}
