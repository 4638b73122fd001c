import Foundation
import GRDB
import SecAggCoordinator
import SecAggCrypto
import SecAggPrivacy
#if canImport(Glibc)
import Glibc
#endif

/// The root's durable record (SQLite through GRDB, WAL, `synchronous = FULL`, like a shard's store): where every
/// client is placed, the task definitions it pushes, each global round with its cohort list, signed releases and
/// result, and each task's global privacy ledger. Every change is committed before the call returns, so nothing the
/// root acknowledges (an enrollment, a started global round, its charge) can be lost by a crash.
public final class RootStore: Sendable {
    private let database: any DatabaseWriter
    private let lockDescriptor: Int32

    /// Where one client is placed.
    public struct Placement: Sendable, Hashable {
        public var key: String
        public var shard: String
        public var label: String
        public var enrolledAt: Date
        public var actor: String
    }

    /// One global round as recorded.
    public struct GlobalRound: Sendable {
        public var id: String
        public var task: String
        /// running, released, aborted (the policy refused or nothing came), or interrupted (the root stopped).
        public var state: String
        public var startedAt: Date
        public var finishedAt: Date?
        /// The whole record as JSON (FEDERATION.md §4): cohorts included with their signed releases, excluded with
        /// reasons, the sum or the failure, noise and privacy.
        public var document: String
    }

    /// Opens (creating if needed) the store at `path`, holding `<path>.lock` so no second root uses it.
    ///
    /// - Throws: ``StoreError`` if it cannot be opened, locked or migrated.
    public convenience init(path: String) throws {
        let (pool, lock) = try StoreFile.openLocked(path, owner: "secagg-root")
        try self.init(database: pool, path: path, lock: lock)
    }

    /// A store in memory (tests).
    ///
    /// - Throws: ``StoreError``.
    public static func inMemory() throws -> RootStore {
        do {
            return try RootStore(database: try DatabaseQueue(), path: ":memory:", lock: -1)
        } catch {
            throw error as? StoreError ?? StoreError.unusable(path: ":memory:", reason: "\(error)")
        }
    }

    private init(database: any DatabaseWriter, path: String, lock: Int32) throws {
        self.database = database
        lockDescriptor = lock
        do {
            try Self.migrator.migrate(database)
        } catch {
            throw StoreError.unusable(path: path, reason: "migration failed: \(error)")
        }
    }

    deinit {
        if lockDescriptor >= 0 { close(lockDescriptor) }
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("root-v1") { db in
            try db.execute(sql: """
                CREATE TABLE placement (
                    public_key TEXT PRIMARY KEY NOT NULL,
                    shard TEXT NOT NULL,
                    label TEXT NOT NULL,
                    enrolled_at REAL NOT NULL,
                    enrolled_by TEXT NOT NULL
                );
                CREATE TABLE task (
                    name TEXT PRIMARY KEY NOT NULL,
                    definition TEXT NOT NULL,
                    updated_at REAL NOT NULL
                );
                CREATE TABLE global_round (
                    id TEXT PRIMARY KEY NOT NULL,
                    task TEXT NOT NULL,
                    state TEXT NOT NULL CHECK (state IN ('running', 'released', 'aborted', 'interrupted')),
                    started_at REAL NOT NULL,
                    finished_at REAL,
                    document TEXT NOT NULL
                );
                CREATE INDEX global_round_by_task ON global_round (task, started_at);
                CREATE TABLE ledger (
                    task TEXT PRIMARY KEY NOT NULL,
                    budget TEXT NOT NULL
                );
                """)
        }
        return migrator
    }

    // MARK: Placement

    /// Records `key` on `shard`, unless it is placed already.
    ///
    /// - Returns: the existing placement if there is one (nothing changed), nil once recorded.
    /// - Throws: ``StoreError``.
    public func place(_ key: Ed25519.VerifyingKey, on shard: String, label: String, actor: String) throws -> Placement? {
        try write { db in
            if let row = try Row.fetchOne(db, sql: "SELECT * FROM placement WHERE public_key = ?", arguments: ["\(key)"]) {
                return Self.placement(row)
            }
            try db.execute(
                sql: "INSERT INTO placement (public_key, shard, label, enrolled_at, enrolled_by) VALUES (?, ?, ?, ?, ?)",
                arguments: ["\(key)", shard, label, Date().timeIntervalSince1970, actor])
            return nil
        }
    }

    /// Removes `key`'s placement; false if it had none.
    ///
    /// - Throws: ``StoreError``.
    public func unplace(_ key: Ed25519.VerifyingKey) throws -> Bool {
        try write { db in
            try db.execute(sql: "DELETE FROM placement WHERE public_key = ?", arguments: ["\(key)"])
            return db.changesCount > 0
        }
    }

    /// `key`'s placement, if any.
    ///
    /// - Throws: ``StoreError``.
    public func placement(of key: Ed25519.VerifyingKey) throws -> Placement? {
        try read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM placement WHERE public_key = ?", arguments: ["\(key)"]).map(Self.placement)
        }
    }

    /// Every placement, by key.
    ///
    /// - Throws: ``StoreError``.
    public func placements() throws -> [Placement] {
        try read { db in try Row.fetchAll(db, sql: "SELECT * FROM placement ORDER BY public_key").map(Self.placement) }
    }

    /// How many clients each shard has.
    ///
    /// - Throws: ``StoreError``.
    public func placementCounts() throws -> [String: Int] {
        try read { db in
            var counts: [String: Int] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT shard, COUNT(*) AS n FROM placement GROUP BY shard") {
                counts[row["shard"]] = row["n"]
            }
            return counts
        }
    }

    private static func placement(_ row: Row) -> Placement {
        Placement(
            key: row["public_key"], shard: row["shard"], label: row["label"],
            enrolledAt: Date(timeIntervalSince1970: row["enrolled_at"]), actor: row["enrolled_by"])
    }

    // MARK: Tasks

    /// Saves (or replaces) a task definition.
    ///
    /// - Throws: ``StoreError``.
    public func saveTask(name: String, definition: String) throws {
        try write { db in
            try db.execute(
                sql: "INSERT OR REPLACE INTO task (name, definition, updated_at) VALUES (?, ?, ?)",
                arguments: [name, definition, Date().timeIntervalSince1970])
        }
    }

    /// Every task definition, by name.
    ///
    /// - Throws: ``StoreError``.
    public func tasks() throws -> [(name: String, definition: String)] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT name, definition FROM task ORDER BY name").map { ($0["name"], $0["definition"]) }
        }
    }

    // MARK: Global rounds and the ledger

    /// Starts a global round: charges the task's ledger (when it has one) and records the round as running, in one
    /// transaction — a round is never started without its charge, nor charged without its row.
    ///
    /// - Parameters:
    ///   - charge: Applies the round's charge to the ledger as stored (nil if none yet), or throws to refuse.
    /// - Returns: the ledger after the charge (nil without one).
    /// - Throws: ``AlreadyRunning`` while another global round of the task runs, what `charge` throws (nothing
    ///   recorded either way), ``StoreError``.
    public func begin(
        globalRound id: String, task: String, document: String,
        charge: @escaping @Sendable (PrivacyBudget?) throws -> PrivacyBudget?
    ) throws -> PrivacyBudget? {
        try write { db in
            // In the same transaction as the insert: two concurrent starts of one task cannot both pass.
            if let running = try String.fetchOne(
                db, sql: "SELECT id FROM global_round WHERE task = ? AND state = 'running' LIMIT 1", arguments: [task])
            {
                throw AlreadyRunning(globalRound: running)
            }
            let stored = try String.fetchOne(db, sql: "SELECT budget FROM ledger WHERE task = ?", arguments: [task])
            let current = try stored.map { try JSONDecoder().decode(PrivacyBudget.self, from: Data($0.utf8)) }
            let next = try charge(current)
            if let next {
                let text = String(decoding: try JSONEncoder().encode(next), as: UTF8.self)
                try db.execute(sql: "INSERT OR REPLACE INTO ledger (task, budget) VALUES (?, ?)", arguments: [task, text])
            }
            try db.execute(
                sql: "INSERT INTO global_round (id, task, state, started_at, document) VALUES (?, ?, 'running', ?, ?)",
                arguments: [id, task, Date().timeIntervalSince1970, document])
            return next
        }
    }

    /// A global round of the task is still running: one runs at a time per task.
    public struct AlreadyRunning: Error, Sendable {
        public var globalRound: String
    }

    /// Records how a global round ended.
    ///
    /// - Throws: ``StoreError``.
    public func finish(globalRound id: String, state: String, document: String) throws {
        try write { db in
            try db.execute(
                sql: "UPDATE global_round SET state = ?, finished_at = ?, document = ? WHERE id = ?",
                arguments: [state, Date().timeIntervalSince1970, document, id])
        }
    }

    /// Marks rounds left running by a stopped root as interrupted; returns their ids.
    ///
    /// - Throws: ``StoreError``.
    public func interruptRunning() throws -> [String] {
        try write { db in
            let ids = try String.fetchAll(db, sql: "SELECT id FROM global_round WHERE state = 'running'")
            try db.execute(
                sql: "UPDATE global_round SET state = 'interrupted', finished_at = ? WHERE state = 'running'",
                arguments: [Date().timeIntervalSince1970])
            return ids
        }
    }

    /// The latest global rounds of `task` (all tasks if nil), newest first.
    ///
    /// - Throws: ``StoreError``.
    public func globalRounds(task: String?, limit: Int) throws -> [GlobalRound] {
        try read { db in
            let rows: [Row]
            if let task {
                rows = try Row.fetchAll(
                    db, sql: "SELECT * FROM global_round WHERE task = ? ORDER BY started_at DESC, id LIMIT ?",
                    arguments: [task, limit])
            } else {
                rows = try Row.fetchAll(db, sql: "SELECT * FROM global_round ORDER BY started_at DESC, id LIMIT ?", arguments: [limit])
            }
            return rows.map(Self.globalRound)
        }
    }

    /// One global round.
    ///
    /// - Throws: ``StoreError``.
    public func globalRound(id: String) throws -> GlobalRound? {
        try read { db in try Row.fetchOne(db, sql: "SELECT * FROM global_round WHERE id = ?", arguments: [id]).map(Self.globalRound) }
    }

    /// A task's global ledger, if it has been charged.
    ///
    /// - Throws: ``StoreError``.
    public func ledger(task: String) throws -> PrivacyBudget? {
        try read { db in
            try String.fetchOne(db, sql: "SELECT budget FROM ledger WHERE task = ?", arguments: [task]).map {
                try JSONDecoder().decode(PrivacyBudget.self, from: Data($0.utf8))
            }
        }
    }

    private static func globalRound(_ row: Row) -> GlobalRound {
        GlobalRound(
            id: row["id"], task: row["task"], state: row["state"], startedAt: Date(timeIntervalSince1970: row["started_at"]),
            finishedAt: (row["finished_at"] as Double?).map(Date.init(timeIntervalSince1970:)), document: row["document"])
    }

    private func write<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) throws -> T {
        do {
            return try database.write(body)
        } catch let error as StoreError {
            throw error
        } catch let error as DatabaseError {
            throw StoreError.failed("\(error)")
        }
    }

    private func read<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) throws -> T {
        do {
            return try database.read(body)
        } catch let error as StoreError {
            throw error
        } catch let error as DatabaseError {
            throw StoreError.failed("\(error)")
        }
    }
}
