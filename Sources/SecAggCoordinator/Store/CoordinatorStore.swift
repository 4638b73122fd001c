import Foundation
import GRDB
import NIOConcurrencyHelpers
import SecAggCrypto
import SecAggIdentity
import SecAggPrivacy
import SecAggProtocol
import SecAggWire
#if canImport(Glibc)
import Glibc
#endif

/// The coordinator's durable record: enrolled clients, tasks, rounds, released results and the
/// privacy ledgers, in one embedded SQLite database (GRDB, WAL journal, `synchronous = FULL`).
///
/// Every method that changes the record commits one transaction before it returns, so a caller that acknowledges
/// something after the call (starts a round after charging its budget, tells clients a result after storing it,
/// answers an admin) never acknowledges what a crash could lose. The store keeps the released sums only — never a
/// client's input, share or key.
public final class CoordinatorStore: Sendable {
    private let database: any DatabaseWriter
    /// The open `<path>.lock` file whose exclusive lock marks this process as the store's only user (-1: none).
    private let lockDescriptor: Int32
    /// Enrolled, unrevoked clients (label by key), mirrored from the `client` table for the handshake's check.
    private let activeClients = NIOLockedValueBox<[Ed25519.VerifyingKey: String]>([:])
    /// Revoked clients, mirrored too: a refused handshake tells the client "revoked" rather than "not enrolled".
    private let revokedClients = NIOLockedValueBox<Set<Ed25519.VerifyingKey>>([])
    /// Endorsements by the enrollment authority of clients enrolled through `secagg admin` (SPEC 2.1), mirrored.
    private let storedEndorsements = NIOLockedValueBox<[Ed25519.VerifyingKey: [UInt8]]>([:])

    /// Opens (creating if needed) the database at `path` and migrates it to the current schema.
    ///
    /// Only one process may use a store at a time — crash recovery assumes that a round still marked running
    /// belongs to no live process — so the store holds an exclusive lock on `<path>.lock` while open (the kernel
    /// drops it when the process dies, even by `kill -9`).
    ///
    /// - Throws: ``StoreError`` if the file cannot be opened, is in use by another process, is not a secagg store,
    ///   or the migration fails.
    public convenience init(path: String) throws {
        let (pool, lock) = try StoreFile.openLocked(path, owner: "secaggd")
        try self.init(database: pool, path: path, lock: lock)
    }

    /// A store in memory, for tests and for services configured without a store path.
    ///
    /// - Throws: ``StoreError`` if the migration fails.
    public static func inMemory() throws -> CoordinatorStore {
        let queue: DatabaseQueue
        do {
            queue = try DatabaseQueue()
        } catch {
            throw StoreError.unusable(path: ":memory:", reason: "\(error)")
        }
        return try CoordinatorStore(database: queue, path: ":memory:", lock: -1)
    }

    private init(database: any DatabaseWriter, path: String, lock: Int32) throws {
        self.database = database
        lockDescriptor = lock
        do {
            try Self.migrator.migrate(database)
        } catch {
            throw StoreError.unusable(path: path, reason: "migration failed: \(error)")
        }
        try reloadActiveClients()
    }

    deinit {
        if lockDescriptor >= 0 { close(lockDescriptor) }
    }

    /// The schema's versions, applied in order; a database records which it has (GRDB's `grdb_migrations`).
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE client (
                    public_key TEXT PRIMARY KEY NOT NULL,
                    label TEXT NOT NULL,
                    enrolled_at REAL NOT NULL,
                    enrolled_by TEXT NOT NULL,
                    revoked_at REAL,
                    revoked_by TEXT
                );
                CREATE TABLE task (
                    name TEXT PRIMARY KEY NOT NULL,
                    definition TEXT NOT NULL,
                    source TEXT NOT NULL,
                    created_at REAL NOT NULL,
                    updated_at REAL NOT NULL
                );
                CREATE TABLE round (
                    round_id TEXT PRIMARY KEY NOT NULL,
                    task TEXT NOT NULL,
                    state TEXT NOT NULL CHECK (state IN ('running', 'completed', 'aborted')),
                    started_at REAL NOT NULL,
                    finished_at REAL,
                    parameters BLOB,
                    identities TEXT NOT NULL DEFAULT '[]',
                    reached_phase INTEGER,
                    phase_participants TEXT NOT NULL DEFAULT '{}',
                    phase_seconds TEXT NOT NULL DEFAULT '{}',
                    dropped_per_phase TEXT NOT NULL DEFAULT '{}',
                    survivors INTEGER,
                    abort_code INTEGER,
                    abort_reason TEXT,
                    abort_phase INTEGER
                );
                CREATE INDEX round_by_task ON round(task, started_at);
                CREATE TABLE result (
                    round_id TEXT PRIMARY KEY NOT NULL REFERENCES round(round_id),
                    task TEXT NOT NULL,
                    released_at REAL NOT NULL,
                    sum BLOB NOT NULL,
                    survivor_identities TEXT NOT NULL,
                    noise TEXT NOT NULL
                );
                CREATE TABLE privacy_ledger (
                    task TEXT PRIMARY KEY NOT NULL,
                    ledger TEXT NOT NULL,
                    updated_at REAL NOT NULL
                );
                """)
        }
        // Whether a finished round's record left the store: its result file, ledger export and audit record are
        // written (deploy/README.md, "Crash consistency"). Rounds before this version count as published.
        // And the audit record the store last saw written (its anchor in the audit log), checked at every start.
        migrator.registerMigration("v2-published") { db in
            try db.execute(sql: """
                ALTER TABLE round ADD COLUMN published INTEGER NOT NULL DEFAULT 1;
                CREATE TABLE audit_anchor (
                    id INTEGER PRIMARY KEY CHECK (id = 1),
                    sequence INTEGER NOT NULL,
                    hash TEXT NOT NULL
                );
                """)
        }
        // Whether a task runs: active, paused or retired by an operator (`secagg admin task pause|resume|retire`).
        migrator.registerMigration("v3-task-state") { db in
            try db.execute(sql: """
                ALTER TABLE task ADD COLUMN state TEXT NOT NULL DEFAULT 'active'
                    CHECK (state IN ('active', 'paused', 'retired'));
                """)
        }
        // The real-vector encoder a round's clients used (JSON), so its released sum can be decoded later.
        migrator.registerMigration("v4-round-encoder") { db in
            try db.execute(sql: "ALTER TABLE round ADD COLUMN encoder TEXT")
        }
        // An enrollment authority's endorsement given with `secagg admin enroll --endorsement`.
        migrator.registerMigration("v5-client-endorsement") { db in
            try db.execute(sql: "ALTER TABLE client ADD COLUMN endorsement BLOB")
        }
        // The root's global round a round was started for (protocol/FEDERATION.md), at most one round per task each.
        migrator.registerMigration("v6-round-global") { db in
            try db.execute(sql: """
                ALTER TABLE round ADD COLUMN global_round TEXT;
                CREATE UNIQUE INDEX round_task_global ON round (task, global_round) WHERE global_round IS NOT NULL;
                """)
        }
        return migrator
    }

    /// The migrations this database has applied, in order.
    ///
    /// - Throws: ``StoreError/failed(_:)``.
    public func appliedMigrations() throws -> [String] {
        try run { db in try Self.migrator.appliedMigrations(db) }
    }

    // MARK: Clients

    /// Label of `key` if it is enrolled and not revoked: the handshake's admission check (no database access).
    public func label(of key: Ed25519.VerifyingKey) -> String? {
        activeClients.withLockedValue { $0[key] }
    }

    /// Whether `key` may connect, and if not, why (no database access: the handshake asks).
    public func enrollmentStatus(of key: Ed25519.VerifyingKey) -> EnrollmentStatus {
        if activeClients.withLockedValue({ $0[key] }) != nil { return .active }
        return revokedClients.withLockedValue { $0.contains(key) } ? .revoked : .unknown
    }

    /// Number of enrolled, unrevoked clients.
    public var activeClientCount: Int { activeClients.withLockedValue { $0.count } }

    /// The endorsement stored with `key` at its enrollment through `secagg admin` (nil: none; endorsements of the
    /// configuration file's clients live in the configuration).
    public func endorsement(of key: Ed25519.VerifyingKey) -> [UInt8]? {
        storedEndorsements.withLockedValue { $0[key] }
    }

    /// Enrolls `key` (or re-enrolls a revoked key) with `label` and, if given, its endorsement by the enrollment
    /// authority (the caller checks it); takes effect for the next connection.
    ///
    /// - Returns: false if the key was already enrolled and active (its label and endorsement are updated).
    /// - Throws: ``StoreError/failed(_:)``.
    @discardableResult
    public func enroll(_ key: Ed25519.VerifyingKey, label: String, actor: String, endorsement: [UInt8]? = nil) throws -> Bool {
        let hex = "\(key)"
        let now = Date().timeIntervalSince1970
        let added = try write { db -> Bool in
            let existing = try Row.fetchOne(db, sql: "SELECT revoked_at FROM client WHERE public_key = ?", arguments: [hex])
            let stored = endorsement.map { Data($0) }
            if let existing, (existing["revoked_at"] as Double?) == nil {
                try db.execute(
                    sql: "UPDATE client SET label = ?, endorsement = ? WHERE public_key = ?", arguments: [label, stored, hex])
                return false
            }
            try db.execute(sql: """
                INSERT INTO client (public_key, label, enrolled_at, enrolled_by, revoked_at, revoked_by, endorsement)
                VALUES (?, ?, ?, ?, NULL, NULL, ?)
                ON CONFLICT(public_key) DO UPDATE SET label = excluded.label, enrolled_at = excluded.enrolled_at,
                    enrolled_by = excluded.enrolled_by, revoked_at = NULL, revoked_by = NULL,
                    endorsement = excluded.endorsement
                """, arguments: [hex, label, now, actor, stored])
            return true
        }
        activeClients.withLockedValue { $0[key] = label }
        storedEndorsements.withLockedValue { $0[key] = endorsement }
        revokedClients.withLockedValue { _ = $0.remove(key) }
        return added
    }

    /// Revokes `key`: it can no longer connect (sessions already open finish their round).
    ///
    /// - Returns: false if the key was not enrolled or already revoked.
    /// - Throws: ``StoreError/failed(_:)``.
    @discardableResult
    public func revoke(_ key: Ed25519.VerifyingKey, actor: String) throws -> Bool {
        let hex = "\(key)"
        let now = Date().timeIntervalSince1970
        let changed = try write { db -> Bool in
            try db.execute(
                sql: "UPDATE client SET revoked_at = ?, revoked_by = ? WHERE public_key = ? AND revoked_at IS NULL",
                arguments: [now, actor, hex])
            return db.changesCount > 0
        }
        activeClients.withLockedValue { _ = $0.removeValue(forKey: key) }
        if changed { revokedClients.withLockedValue { _ = $0.insert(key) } }
        return changed
    }

    /// Adds the configuration file's clients the store does not know yet; a key an operator revoked stays revoked.
    ///
    /// - Returns: the keys added, and the configured keys left out because they are revoked.
    /// - Throws: ``StoreError/failed(_:)``.
    public func seed(clients: [Ed25519.VerifyingKey: String]) throws -> (added: [Ed25519.VerifyingKey], revoked: [Ed25519.VerifyingKey]) {
        let now = Date().timeIntervalSince1970
        let outcome = try write { db -> ([Ed25519.VerifyingKey], [Ed25519.VerifyingKey]) in
            var added: [Ed25519.VerifyingKey] = []
            var revoked: [Ed25519.VerifyingKey] = []
            for (key, label) in clients.sorted(by: { "\($0.key)" < "\($1.key)" }) {
                let row = try Row.fetchOne(db, sql: "SELECT revoked_at FROM client WHERE public_key = ?", arguments: ["\(key)"])
                if let row {
                    if (row["revoked_at"] as Double?) != nil { revoked.append(key) }
                    continue
                }
                try db.execute(sql: """
                    INSERT INTO client (public_key, label, enrolled_at, enrolled_by) VALUES (?, ?, ?, 'config')
                    """, arguments: ["\(key)", label, now])
                added.append(key)
            }
            return (added, revoked)
        }
        try reloadActiveClients()
        return (outcome.0, outcome.1)
    }

    /// Every client the store knows, enrolled or revoked, by enrollment time.
    ///
    /// - Throws: ``StoreError/failed(_:)``.
    public func clients() throws -> [StoredClient] {
        try run { db in
            try Row.fetchAll(db, sql: "SELECT * FROM client ORDER BY enrolled_at, public_key").map { row in
                StoredClient(
                    publicKey: row["public_key"] ?? "", label: row["label"] ?? "",
                    enrolledAt: Date(timeIntervalSince1970: row["enrolled_at"] ?? 0),
                    enrolledBy: row["enrolled_by"] ?? "",
                    revokedAt: (row["revoked_at"] as Double?).map(Date.init(timeIntervalSince1970:)),
                    revokedBy: row["revoked_by"])
            }
        }
    }

    private func reloadActiveClients() throws {
        let rows = try run { db in
            try Row.fetchAll(db, sql: "SELECT public_key, label, revoked_at IS NOT NULL AS revoked, endorsement FROM client")
                .map { (($0["public_key"] as String?) ?? "", ($0["label"] as String?) ?? "", ($0["revoked"] as Bool?) ?? false,
                        ($0["endorsement"] as Data?).map { [UInt8]($0) }) }
        }
        var active: [Ed25519.VerifyingKey: String] = [:]
        var revoked: Set<Ed25519.VerifyingKey> = []
        var endorsements: [Ed25519.VerifyingKey: [UInt8]] = [:]
        for (hex, label, isRevoked, endorsement) in rows {
            guard let key = try? IdentityFile.publicKey(fromHex: hex) else {
                throw StoreError.corrupt("client key \(hex) is not a valid Ed25519 public key")
            }
            if isRevoked { revoked.insert(key) } else { active[key] = label }
            if let endorsement { endorsements[key] = endorsement }
        }
        activeClients.withLockedValue { $0 = active }
        revokedClients.withLockedValue { $0 = revoked }
        storedEndorsements.withLockedValue { $0 = endorsements }
    }

    // MARK: Tasks

    /// Saves a task's definition (JSON); `source` is "config" or "admin".
    ///
    /// - Returns: false if a task of that name existed (its definition is replaced).
    /// - Throws: ``StoreError/failed(_:)``.
    @discardableResult
    public func saveTask(name: String, definition: String, source: String) throws -> Bool {
        let now = Date().timeIntervalSince1970
        return try write { db -> Bool in
            let exists = try Bool.fetchOne(db, sql: "SELECT 1 FROM task WHERE name = ?", arguments: [name]) ?? false
            try db.execute(sql: """
                INSERT INTO task (name, definition, source, created_at, updated_at) VALUES (?, ?, ?, ?, ?)
                ON CONFLICT(name) DO UPDATE SET definition = excluded.definition, source = excluded.source,
                    updated_at = excluded.updated_at
                """, arguments: [name, definition, source, now, now])
            return !exists
        }
    }

    /// Every stored task, by name.
    ///
    /// - Throws: ``StoreError/failed(_:)``.
    public func tasks() throws -> [StoredTask] {
        try run { db in
            try Row.fetchAll(db, sql: "SELECT * FROM task ORDER BY name").map { row in
                StoredTask(
                    name: row["name"] ?? "", definition: row["definition"] ?? "", source: row["source"] ?? "",
                    createdAt: Date(timeIntervalSince1970: row["created_at"] ?? 0),
                    updatedAt: Date(timeIntervalSince1970: row["updated_at"] ?? 0),
                    state: TaskState(rawValue: row["state"] ?? "") ?? .active)
            }
        }
    }

    /// Records whether a task runs (``TaskState``); the state survives restarts.
    ///
    /// - Returns: false if no task of that name is stored.
    /// - Throws: ``StoreError/failed(_:)``.
    @discardableResult
    public func setTaskState(name: String, _ state: TaskState) throws -> Bool {
        let now = Date().timeIntervalSince1970
        return try write { db -> Bool in
            try db.execute(
                sql: "UPDATE task SET state = ?, updated_at = ? WHERE name = ?", arguments: [state.rawValue, now, name])
            return db.changesCount > 0
        }
    }

    // MARK: Privacy ledgers

    /// The stored ledger of `task`, if any.
    ///
    /// - Throws: ``StoreError/corrupt(_:)`` if the stored ledger does not decode; ``StoreError/failed(_:)``.
    public func ledger(task: String) throws -> PrivacyBudget? {
        let text = try run { db in
            try String.fetchOne(db, sql: "SELECT ledger FROM privacy_ledger WHERE task = ?", arguments: [task])
        }
        guard let text else { return nil }
        do {
            return try JSONDecoder().decode(PrivacyBudget.self, from: Data(text.utf8))
        } catch {
            throw StoreError.corrupt("the privacy ledger of task '\(task)' does not decode: \(error)")
        }
    }

    /// Stores a task's ledger (first start, or a ledger imported from `privacy-ledger.json`).
    ///
    /// - Throws: ``StoreError/failed(_:)``.
    public func saveLedger(_ ledger: PrivacyBudget, task: String) throws {
        try write { db in try Self.saveLedger(ledger, task: task, db) }
    }

    /// Commits a round's privacy charge with the round's row (state running), before the round starts.
    ///
    /// - Throws: ``StoreError/failed(_:)``; the round must not start then.
    public func commitCharge(_ ledger: PrivacyBudget, task: String, roundID: RoundID) throws {
        let now = Date().timeIntervalSince1970
        try write { db in
            try Self.ensureRound("\(roundID)", task: task, at: now, db)
            try Self.saveLedger(ledger, task: task, db)
        }
    }

    /// Adds the row of a round the store has not seen yet (state running); leaves an existing row alone.
    private static func ensureRound(_ roundID: String, task: String, at time: Double, _ db: Database) throws {
        try db.execute(sql: """
            INSERT INTO round (round_id, task, state, started_at, published) VALUES (?, ?, 'running', ?, 0)
            ON CONFLICT(round_id) DO NOTHING
            """, arguments: [roundID, task, time])
    }

    private static func saveLedger(_ ledger: PrivacyBudget, task: String, _ db: Database) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let text = String(decoding: try encoder.encode(ledger), as: UTF8.self)
        try db.execute(sql: """
            INSERT INTO privacy_ledger (task, ledger, updated_at) VALUES (?, ?, ?)
            ON CONFLICT(task) DO UPDATE SET ledger = excluded.ledger, updated_at = excluded.updated_at
            """, arguments: [task, text, Date().timeIntervalSince1970])
    }

    // MARK: Rounds

    /// Binds a round to a root's global round before anything else is recorded about it (the row is created if
    /// needed): a round refused at its privacy charge is then found under the global round too, with its reason.
    ///
    /// - Throws: ``StoreError/failed(_:)``, also when the task already has a round for `globalRound`.
    public func bindGlobalRound(_ globalRound: GlobalRoundID, task: String, roundID: RoundID) throws {
        let now = Date().timeIntervalSince1970
        try write { db in
            try Self.ensureRound("\(roundID)", task: task, at: now, db)
            try db.execute(
                sql: "UPDATE round SET global_round = ? WHERE round_id = ?", arguments: ["\(globalRound)", "\(roundID)"])
        }
    }

    /// The round of `task` started for `globalRound`, if any.
    ///
    /// - Throws: ``StoreError/failed(_:)``.
    public func round(task: String, globalRound: GlobalRoundID) throws -> StoredRound? {
        try run { db in
            try Row.fetchOne(
                db, sql: "SELECT * FROM round WHERE task = ? AND global_round = ?", arguments: [task, "\(globalRound)"]
            ).map(Self.round(from:))
        }
    }

    /// Records that a round started with these parameters and participants (index order), and the real-vector
    /// encoder its clients use, if any.
    ///
    /// - Throws: ``StoreError/failed(_:)``.
    public func recordRoundStarting(
        task: String, parameters: RoundParameters, identities: [String], encoder: RealVectorEncoding? = nil
    ) throws {
        let now = Date().timeIntervalSince1970
        try write { db in
            try db.execute(sql: """
                INSERT INTO round (round_id, task, state, started_at, parameters, identities, published, encoder)
                VALUES (?, ?, 'running', ?, ?, ?, 0, ?)
                ON CONFLICT(round_id) DO UPDATE SET parameters = excluded.parameters, identities = excluded.identities,
                    encoder = excluded.encoder
                """, arguments: [
                    "\(parameters.roundID)", task, now, Data(parameters.encoded), Self.json(identities),
                    encoder.map { Self.json($0) },
                ])
        }
    }

    /// Records that `phase` opened with `participants` clients: committed before the phase's requests are sent,
    /// so after a crash the store knows how far the round got.
    ///
    /// - Throws: ``StoreError/failed(_:)``.
    public func recordPhase(task: String, roundID: RoundID, phase: RoundPhase, participants: Int) throws {
        let now = Date().timeIntervalSince1970
        try write { db in
            try Self.ensureRound("\(roundID)", task: task, at: now, db)
            let text = try String.fetchOne(
                db, sql: "SELECT phase_participants FROM round WHERE round_id = ?", arguments: ["\(roundID)"])
            guard let text else { return }
            var counts = Self.counts(text)
            counts["\(phase)"] = participants
            try db.execute(sql: """
                UPDATE round SET phase_participants = ?, reached_phase = max(coalesce(reached_phase, 0), ?)
                WHERE round_id = ?
                """, arguments: [Self.json(counts), Int(phase.rawValue), "\(roundID)"])
        }
    }

    /// Commits a released result with its ledger settlement (if the task has DP) and marks the round completed —
    /// one transaction, before the clients are told the outcome. A round already completed is left unchanged
    /// (no result is stored twice).
    ///
    /// - Throws: ``StoreError/failed(_:)``; the result must not be announced then.
    public func commitRelease(
        task: String, roundID: RoundID, sum: [UInt64], survivorIdentities: [String], noise: String,
        ledger: PrivacyBudget?
    ) throws {
        let now = Date().timeIntervalSince1970
        var blob = WireWriter(capacity: sum.count * 8)
        for value in sum { blob.write(value) }
        let bytes = Data(blob.bytes)
        try write { db in
            try Self.ensureRound("\(roundID)", task: task, at: now, db)
            try db.execute(sql: """
                INSERT INTO result (round_id, task, released_at, sum, survivor_identities, noise)
                VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(round_id) DO NOTHING
                """, arguments: ["\(roundID)", task, now, bytes, Self.json(survivorIdentities), noise])
            try db.execute(sql: """
                UPDATE round SET state = 'completed', finished_at = ?, survivors = ? WHERE round_id = ?
                """, arguments: [now, survivorIdentities.count, "\(roundID)"])
            if let ledger { try Self.saveLedger(ledger, task: task, db) }
        }
    }

    /// Records how a round ended (timings, counts, abort reason) and, for an abort, its ledger settlement — one
    /// transaction. A completed round keeps its state and result.
    ///
    /// - Throws: ``StoreError/failed(_:)``.
    public func commitFinish(_ summary: RoundSummary, ledger: PrivacyBudget?) throws {
        let now = Date().timeIntervalSince1970
        try write { db in
            try Self.ensureRound(summary.roundID, task: summary.task, at: now, db)
            try db.execute(sql: """
                UPDATE round SET
                    state = CASE WHEN state = 'completed' THEN 'completed' ELSE ? END,
                    finished_at = coalesce(finished_at, ?), phase_seconds = ?, dropped_per_phase = ?,
                    survivors = coalesce(survivors, ?), abort_code = ?, abort_reason = ?, abort_phase = ?
                WHERE round_id = ?
                """, arguments: [
                    summary.abortCode == nil ? "completed" : "aborted", now, Self.json(summary.phaseSeconds),
                    Self.json(summary.droppedPerPhase), summary.survivors, summary.abortCode, summary.abortReason,
                    summary.abortPhase, summary.roundID,
                ])
            if let ledger { try Self.saveLedger(ledger, task: summary.task, db) }
        }
    }

    /// After a crash: marks every round still running as aborted with `reason`, and settles the ledger entries
    /// still charged — kept if the round had opened masked-input collection with distributed noise (noised inputs
    /// may have been sent), refunded otherwise (``PrivacyBudget/recordAbort(roundID:noisedInputsSent:reason:)``).
    /// One transaction.
    ///
    /// - Returns: the rounds marked aborted.
    /// - Throws: ``StoreError``.
    @discardableResult
    public func recoverInterruptedRounds(reason: String) throws -> [InterruptedRound] {
        let now = Date().timeIntervalSince1970
        return try write { db -> [InterruptedRound] in
            let rows = try Row.fetchAll(db, sql: "SELECT round_id, task, reached_phase FROM round WHERE state = 'running'")
            var interrupted: [String: InterruptedRound] = [:]
            for row in rows {
                let round = InterruptedRound(
                    roundID: row["round_id"] ?? "", task: row["task"] ?? "",
                    reachedPhase: (row["reached_phase"] as Int?).flatMap { RoundPhase(rawValue: UInt8(clamping: $0)) })
                interrupted[round.roundID] = round
            }
            try db.execute(sql: """
                UPDATE round SET state = 'aborted', finished_at = ?, abort_code = ?, abort_reason = ?,
                    abort_phase = reached_phase
                WHERE state = 'running'
                """, arguments: [now, Int(AbortCode.cancelled.rawValue), reason])
            for row in try Row.fetchAll(db, sql: "SELECT task, ledger FROM privacy_ledger") {
                let task: String = row["task"] ?? ""
                guard let text = row["ledger"] as String?,
                      var ledger = try? JSONDecoder().decode(PrivacyBudget.self, from: Data(text.utf8)) else {
                    throw StoreError.corrupt("the privacy ledger of task '\(task)' does not decode")
                }
                var changed = false
                for entry in ledger.entries where entry.status == .charged {
                    // Unknown progress counts as "noised inputs may have been sent" (the safe side).
                    let phase = interrupted[entry.roundID].map { $0.reachedPhase } ?? .some(.unmasking)
                    let sent = (phase?.rawValue ?? 0) >= RoundPhase.maskedInputCollection.rawValue
                    do {
                        try ledger.recordAbort(roundID: entry.roundID, noisedInputsSent: sent, reason: reason)
                    } catch {
                        throw StoreError.corrupt("cannot settle round \(entry.roundID) of task '\(task)': \(error)")
                    }
                    changed = true
                }
                if changed { try Self.saveLedger(ledger, task: task, db) }
            }
            return interrupted.values.sorted { $0.roundID < $1.roundID }
        }
    }

    /// The rounds of `task` (all tasks if nil), newest first, at most `limit`.
    ///
    /// - Throws: ``StoreError/failed(_:)``.
    public func rounds(task: String?, limit: Int = 100) throws -> [StoredRound] {
        try run { db in
            let rows: [Row]
            if let task {
                rows = try Row.fetchAll(
                    db, sql: "SELECT * FROM round WHERE task = ? ORDER BY started_at DESC, rowid DESC LIMIT ?",
                    arguments: [task, limit])
            } else {
                rows = try Row.fetchAll(
                    db, sql: "SELECT * FROM round ORDER BY started_at DESC, rowid DESC LIMIT ?", arguments: [limit])
            }
            return rows.map(Self.round(from:))
        }
    }

    /// One round by identifier (hex).
    ///
    /// - Throws: ``StoreError/failed(_:)``.
    public func round(id: String) throws -> StoredRound? {
        try run { db in
            try Row.fetchOne(db, sql: "SELECT * FROM round WHERE round_id = ?", arguments: [id]).map(Self.round(from:))
        }
    }

    /// Marks a finished round's record as published: its result file, ledger export and audit record are written.
    ///
    /// - Throws: ``StoreError/failed(_:)``.
    /// With `auditHead`, also records the audit log's last record as the store's anchor in it, in the same
    /// transaction.
    public func markPublished(roundID: String, auditHead: (sequence: Int64, hash: String)? = nil) throws {
        try write { db in
            try db.execute(sql: "UPDATE round SET published = 1 WHERE round_id = ? AND state != 'running'", arguments: [roundID])
            if let auditHead { try Self.saveAuditAnchor(auditHead, db) }
        }
    }

    /// Records the audit log's last record as the store's anchor (after an operator accepted a divergence).
    ///
    /// - Throws: ``StoreError/failed(_:)``.
    public func saveAuditAnchor(_ head: (sequence: Int64, hash: String)) throws {
        try write { db in try Self.saveAuditAnchor(head, db) }
    }

    private static func saveAuditAnchor(_ head: (sequence: Int64, hash: String), _ db: Database) throws {
        try db.execute(sql: """
            INSERT INTO audit_anchor (id, sequence, hash) VALUES (1, ?, ?)
            ON CONFLICT(id) DO UPDATE SET sequence = excluded.sequence, hash = excluded.hash
            """, arguments: [head.sequence, head.hash])
    }

    /// The audit record the store last saw written, if any.
    ///
    /// - Throws: ``StoreError/failed(_:)``.
    public func auditAnchor() throws -> (sequence: Int64, hash: String)? {
        try run { db in
            try Row.fetchOne(db, sql: "SELECT sequence, hash FROM audit_anchor WHERE id = 1").map {
                (($0["sequence"] as Int64?) ?? 0, ($0["hash"] as String?) ?? "")
            }
        }
    }

    /// Finished rounds whose record was not published (a crash came between the store's commit and the audit
    /// record), oldest first: what a restart must still publish.
    ///
    /// - Throws: ``StoreError``.
    public func unpublishedRounds() throws -> [StoredRound] {
        try run { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM round WHERE published = 0 AND state != 'running' ORDER BY started_at, rowid"
            ).map(Self.round(from:))
        }
    }

    /// The released result of a round, if it released one.
    ///
    /// - Throws: ``StoreError``.
    public func result(roundID: String) throws -> StoredResult? {
        try run { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM result WHERE round_id = ?", arguments: [roundID]) else {
                return nil
            }
            let bytes = [UInt8]((row["sum"] as Data?) ?? Data())
            guard bytes.count % 8 == 0 else { throw StoreError.corrupt("the sum of round \(roundID) is truncated") }
            var reader = WireReader(bytes)
            var sum: [UInt64] = []
            sum.reserveCapacity(bytes.count / 8)
            for _ in 0..<(bytes.count / 8) { sum.append(try reader.readUInt64()) }
            return StoredResult(
                roundID: roundID, task: row["task"] ?? "",
                releasedAt: Date(timeIntervalSince1970: row["released_at"] ?? 0), sum: sum,
                survivorIdentities: Self.strings(row["survivor_identities"] ?? "[]"), noise: row["noise"] ?? "")
        }
    }

    /// Number of released results (all tasks).
    ///
    /// - Throws: ``StoreError/failed(_:)``.
    public func resultCount() throws -> Int {
        try run { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM result") ?? 0 }
    }

    // MARK: Helpers

    private static func round(from row: Row) -> StoredRound {
        let parameters = (row["parameters"] as Data?).flatMap { try? RoundParameters(decoding: [UInt8]($0)) }
        return StoredRound(
            roundID: row["round_id"] ?? "", task: row["task"] ?? "", state: row["state"] ?? "",
            startedAt: Date(timeIntervalSince1970: row["started_at"] ?? 0),
            finishedAt: (row["finished_at"] as Double?).map(Date.init(timeIntervalSince1970:)),
            parameters: parameters, identities: strings(row["identities"] ?? "[]"),
            reachedPhase: (row["reached_phase"] as Int?).flatMap { RoundPhase(rawValue: UInt8(clamping: $0)) },
            phaseParticipants: counts(row["phase_participants"] ?? "{}"),
            phaseSeconds: seconds(row["phase_seconds"] ?? "{}"),
            droppedPerPhase: counts(row["dropped_per_phase"] ?? "{}"), survivors: row["survivors"],
            abortCode: row["abort_code"], abortReason: row["abort_reason"],
            abortPhase: (row["abort_phase"] as Int?).flatMap { RoundPhase(rawValue: UInt8(clamping: $0)) },
            encoder: (row["encoder"] as String?).flatMap { try? JSONDecoder().decode(RealVectorEncoding.self, from: Data($0.utf8)) },
            globalRound: (row["global_round"] as String?).flatMap(GlobalRoundID.init(hex:)))
    }

    static func json(_ value: some Encodable) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "null"
    }

    private static func counts(_ text: String) -> [String: Int] {
        (try? JSONDecoder().decode([String: Int].self, from: Data(text.utf8))) ?? [:]
    }

    private static func seconds(_ text: String) -> [String: Double] {
        (try? JSONDecoder().decode([String: Double].self, from: Data(text.utf8))) ?? [:]
    }

    private static func strings(_ text: String) -> [String] {
        (try? JSONDecoder().decode([String].self, from: Data(text.utf8))) ?? []
    }

    private func write<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) throws -> T {
        do {
            return try database.write(body)
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError.failed("\(error)")
        }
    }

    private func run<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) throws -> T {
        do {
            return try database.read(body)
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError.failed("\(error)")
        }
    }
}

/// Why the store could not be used or a write did not commit.
public enum StoreError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The database file cannot be opened or migrated.
    case unusable(path: String, reason: String)
    /// A statement failed (disk full, I/O error, locked); nothing of the call was committed.
    case failed(String)
    /// The stored data is not what this version wrote.
    case corrupt(String)

    public var description: String {
        switch self {
        case let .unusable(path, reason): return "cannot use the store \(path): \(reason)"
        case let .failed(reason): return "store write or read failed: \(reason)"
        case let .corrupt(reason): return "the store is corrupt: \(reason)"
        }
    }
}

/// A client the store knows.
public struct StoredClient: Sendable, Hashable, Codable {
    /// The Ed25519 public key, hex.
    public var publicKey: String
    public var label: String
    public var enrolledAt: Date
    /// Who enrolled it: "config" or the admin key.
    public var enrolledBy: String
    /// When and by whom it was revoked (nil while it is enrolled).
    public var revokedAt: Date?
    public var revokedBy: String?
}

/// A task definition the store knows (the configuration file's task keys, as JSON).
public struct StoredTask: Sendable, Hashable, Codable {
    public var name: String
    /// The configuration file's keys of the task, as JSON.
    public var definition: String
    /// "config" (seeded from the configuration file at start) or "admin" (created with `secagg admin task create`).
    public var source: String
    public var createdAt: Date
    public var updatedAt: Date
    /// Whether it runs.
    public var state: TaskState
}

/// Whether a task runs rounds: set by an operator, kept across restarts.
public enum TaskState: String, Sendable, Hashable, Codable {
    /// It takes joins and runs rounds.
    case active
    /// It takes no joins and starts no round (a round in flight finishes); `resume` makes it active again.
    case paused
    /// It is over for good: it does not run again, even if the configuration still lists it; its rounds, results
    /// and ledger stay in the store, and its name cannot be given to a new task (the ledger is kept by name).
    case retired
}

/// One round as the store records it.
public struct StoredRound: Sendable, Hashable {
    public var roundID: String
    public var task: String
    /// "running", "completed" or "aborted".
    public var state: String
    public var startedAt: Date
    public var finishedAt: Date?
    /// Nil while the round's parameters are not known (charged but not started, or refused).
    public var parameters: RoundParameters?
    /// Participants' public keys, index order.
    public var identities: [String]
    /// The last phase that opened.
    public var reachedPhase: RoundPhase?
    /// Participants when each phase opened, by phase name.
    public var phaseParticipants: [String: Int]
    public var phaseSeconds: [String: Double]
    public var droppedPerPhase: [String: Int]
    public var survivors: Int?
    public var abortCode: Int?
    public var abortReason: String?
    public var abortPhase: RoundPhase?
    /// The real-vector encoder its clients used (nil: integer inputs).
    public var encoder: RealVectorEncoding?
    /// The root's global round it was started for (nil: a round of this coordinator alone).
    public var globalRound: GlobalRoundID? = nil
}

/// A released result: the (noised, if the task has DP) sum and who is in it.
public struct StoredResult: Sendable, Hashable {
    public var roundID: String
    public var task: String
    public var releasedAt: Date
    /// The released sum modulo 2^bits, entries in order (noised if the task has DP).
    public var sum: [UInt64]
    /// Public keys (hex) of the clients whose inputs are in the sum.
    public var survivorIdentities: [String]
    /// "none", "central" or "distributed".
    public var noise: String
}

/// A round found running when the store was opened after a crash, now marked aborted.
public struct InterruptedRound: Sendable, Hashable {
    public var roundID: String
    public var task: String
    public var reachedPhase: RoundPhase?
}

/// What ``CoordinatorStore/commitFinish(_:ledger:)`` records of a finished round.
public struct RoundSummary: Sendable, Hashable {
    public var task: String
    /// The round identifier, hex.
    public var roundID: String
    /// Seconds each phase stayed open, by phase name ("advertise", "share", "masked", "consistency", "unmask").
    public var phaseSeconds: [String: Double]
    /// Participants dropped in each phase, by phase name.
    public var droppedPerPhase: [String: Int]
    /// Clients in the released sum (nil if nothing was released).
    public var survivors: Int?
    /// The ``AbortCode`` raw value, if the round aborted.
    public var abortCode: Int?
    public var abortReason: String?
    /// The ``RoundPhase`` raw value of the phase open when the round aborted.
    public var abortPhase: Int?

    /// A summary from its parts (tests and tools; the coordinator uses ``init(_:)``).
    public init(
        task: String, roundID: String, phaseSeconds: [String: Double] = [:], droppedPerPhase: [String: Int] = [:],
        survivors: Int? = nil, abortCode: Int? = nil, abortReason: String? = nil, abortPhase: Int? = nil
    ) {
        self.task = task
        self.roundID = roundID
        self.phaseSeconds = phaseSeconds
        self.droppedPerPhase = droppedPerPhase
        self.survivors = survivors
        self.abortCode = abortCode
        self.abortReason = abortReason
        self.abortPhase = abortPhase
    }

    /// The summary of a coordinator round record.
    public init(_ record: RoundRecord) {
        task = record.task
        roundID = "\(record.roundID)"
        phaseSeconds = Dictionary(uniqueKeysWithValues: record.phaseSeconds.map { ("\($0.key)", $0.value) })
        droppedPerPhase = Dictionary(uniqueKeysWithValues: record.droppedPerPhase.map { ("\($0.key)", $0.value) })
        survivors = record.sum == nil ? nil : record.survivors.count
        abortCode = record.abortReason.map { Int($0.code.rawValue) }
        abortReason = record.abortReason?.detail
        abortPhase = record.abortPhase.map { Int($0.rawValue) }
    }
}

/// Whether a client identity may connect, as the store knows it.
public enum EnrollmentStatus: Sendable, Hashable {
    /// Enrolled and not revoked.
    case active
    /// Enrolled once, then revoked.
    case revoked
    /// Never enrolled.
    case unknown
}
