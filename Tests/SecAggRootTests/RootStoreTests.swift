import Foundation
import SecAggCrypto
import SecAggPrivacy
import SecAggRoot
import Testing

/// The root's durable record: a key is placed once; a global round is recorded with its charge or not at all.
@Suite("The root's store")
struct RootStoreTests {
    static func key(_ byte: UInt8) -> Ed25519.VerifyingKey {
        try! Ed25519.SigningKey(seed: SecureBytes(copying: [UInt8](repeating: byte, count: 32))).verifyingKey
    }

    @Test("a key is placed once: a second placement returns the first and changes nothing")
    func placement() throws {
        let store = try RootStore.inMemory()
        #expect(try store.place(Self.key(1), on: "shard-a", label: "one", actor: "admin x") == nil)
        let again = try #require(try store.place(Self.key(1), on: "shard-b", label: "other", actor: "admin y"))
        #expect(again.shard == "shard-a" && again.label == "one")
        #expect(try store.place(Self.key(2), on: "shard-b", label: "two", actor: "admin x") == nil)
        #expect(try store.placementCounts() == ["shard-a": 1, "shard-b": 1])
        #expect(try store.unplace(Self.key(1)))
        #expect(try !store.unplace(Self.key(1)))
        #expect(try store.placement(of: Self.key(1)) == nil)
    }

    @Test("a global round is recorded with its charge in one transaction; a refused charge records nothing")
    func chargedOrNothing() throws {
        struct Refused: Error {}
        let store = try RootStore.inMemory()
        let ledger = try store.begin(globalRound: "g1", task: "t", document: "{}") { current in
            #expect(current == nil)
            return try PrivacyBudget(epsilon: 1, delta: 1e-6)
        }
        #expect(ledger != nil)
        #expect(try store.ledger(task: "t") == ledger)
        #expect(throws: Refused.self) {
            try store.begin(globalRound: "g2", task: "u", document: "{}") { _ in throw Refused() }
        }
        #expect(try store.globalRounds(task: "u", limit: 10).isEmpty && store.ledger(task: "u") == nil)
        // While g1 runs, a second start of the task is refused inside the transaction (nothing charged).
        #expect(throws: RootStore.AlreadyRunning.self) {
            try store.begin(globalRound: "g3", task: "t", document: "{}") { _ in
                Issue.record("charged while another global round runs")
                return nil
            }
        }
        #expect(try store.globalRounds(task: "t", limit: 10).map(\.id) == ["g1"])
        #expect(try store.globalRound(id: "g2") == nil)
        // A root that stopped mid-round finds it interrupted at its next start.
        #expect(try store.interruptRunning() == ["g1"])
        #expect(try store.globalRound(id: "g1")?.state == "interrupted")
        try store.finish(globalRound: "g1", state: "released", document: "{\"state\": \"released\"}")
        #expect(try store.globalRound(id: "g1")?.document == "{\"state\": \"released\"}")
    }

    @Test("the store is kept on disk and locked against a second root")
    func durableAndLocked() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("root-store-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("root.sqlite").path
        do {
            let store = try RootStore(path: path)
            try store.saveTask(name: "t", definition: "name: t")
            #expect(throws: (any Error).self) { try RootStore(path: path) }
        }
        #expect(try RootStore(path: path).tasks().map(\.name) == ["t"])
    }
}
