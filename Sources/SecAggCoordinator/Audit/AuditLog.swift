import Foundation
import Logging
import Metrics
import NIOConcurrencyHelpers
import SecAggCrypto
#if canImport(Glibc)
import Glibc
#endif

/// The coordinator's tamper-evident audit log: an append-only file of hash-chained records, one per
/// security-relevant event (format: ``AuditChain``, `protocol/AUDIT.md`).
///
/// Every record is written and `fsync`ed before ``append(kind:fields:)`` returns. Opening an existing file verifies
/// its whole chain and continues it; a file whose chain is broken is refused (move it aside and keep it as
/// evidence). An unfinished last line — a write cut short by a crash — is not extended: it is moved to a side file
/// `<path>.torn-<seq>` and a `log_recovered` record stating its length and hash continues the chain.
///
/// As a ``CoordinatorObserver`` it records every ``CoordinatorEvent`` (see ``AuditLog/fields(of:)``). Records hold
/// identities, counts, parameters and reasons, never a secret or an input vector; a released sum is summarised by
/// its BLAKE2b hash.
public final class AuditLog: CoordinatorObserver, Sendable {
    /// At most this many `authentication_failed` records per minute; the rest are counted and summarised in one
    /// `authentication_failures_suppressed` record, so an unauthenticated flood cannot fill the disk or the log.
    public static let authenticationFailuresPerMinute = 100

    struct State {
        var descriptor: Int32
        var nextSequence: Int64
        var previousHash: String
        /// File length after the last complete record.
        var length: Int
        var windowStart: ContinuousClock.Instant
        var failuresInWindow = 0
        var suppressed = 0
    }

    /// The file's path.
    public let path: String
    private let state: NIOLockedValueBox<State>
    private let logger: Logger
    private let writeFailures: Counter

    /// Opens (or creates, mode 0600) the audit log at `path`, verifies what it holds and prepares to continue it.
    ///
    /// - Throws: ``AuditLogError`` if the file cannot be opened, read or repaired, or its chain is broken.
    public init(path: String, logger: Logger, metricsFactory: any MetricsFactory = MetricsSystem.factory) throws(AuditLogError) {
        self.path = path
        self.logger = logger
        writeFailures = Counter(label: "secagg_audit_write_failures_total", factory: metricsFactory)
        let descriptor = Glibc.open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw AuditLogError.cannotOpen(path, errno: errno) }
        // One writer: a second daemon started on the same configuration must fail here, before it appends anything
        // to the live log (it used to append `log_opened`, breaking the running daemon's chain). The lock is
        // released with the descriptor, also when the process dies.
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            close(descriptor)
            throw AuditLogError.inUse(path)
        }
        // Created 0600 above; an existing log that others could read is tightened.
        _ = fchmod(descriptor, 0o600)
        let contents: [UInt8]
        do {
            contents = try Self.readAll(descriptor, path: path)
        } catch {
            close(descriptor)
            throw error
        }
        let verification = AuditChain.verify(contents)
        guard verification.problems.isEmpty else {
            close(descriptor)
            throw AuditLogError.brokenChain(path, verification.problems)
        }
        state = NIOLockedValueBox(State(
            descriptor: descriptor, nextSequence: verification.lastSequence + 1,
            previousHash: verification.headHash, length: verification.intactBytes, windowStart: .now))
        if contents.isEmpty { Self.syncDirectory(of: path) }
        if let torn = verification.tornTailBytes {
            try recoverTornTail(Array(contents[verification.intactBytes...]), bytes: torn)
        }
    }

    deinit {
        state.withLockedValue { _ = close($0.descriptor) }
    }

    /// Sequence number and hash of the last record written (an anchor to keep elsewhere: see `protocol/AUDIT.md`).
    public var head: (sequence: Int64, hash: String) {
        state.withLockedValue { ($0.nextSequence - 1, $0.previousHash) }
    }

    /// Appends one record and `fsync`s it.
    ///
    /// - Parameters:
    ///   - kind: The record kind (`round_starting`, …).
    ///   - fields: The event's members; the reserved names `seq`, `time`, `kind`, `prev_hash` and `hash` are
    ///     ignored.
    /// - Returns: The record's sequence number and hash.
    /// - Throws: ``AuditLogError/writeFailed(_:errno:)``; the file is cut back to its last complete record, so the
    ///   chain stays intact and the next append can succeed.
    @discardableResult
    public func append(kind: String, fields: [String: AuditValue]) throws(AuditLogError) -> (sequence: Int64, hash: String) {
        try state.withLockedValue { state in
            Result { () throws(AuditLogError) in try Self.append(kind: kind, fields: fields, to: &state, path: path) }
        }.get()
    }

    private static func append(
        kind: String, fields: [String: AuditValue], to state: inout State, path: String
    ) throws(AuditLogError) -> (sequence: Int64, hash: String) {
        let time = Date().formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
        let sealed = AuditChain.seal(
            sequence: state.nextSequence, time: time, kind: kind, fields: fields, previousHash: state.previousHash)
        let line = sealed.line + [UInt8(ascii: "\n")]
        var written = 0
        var failure: Int32 = 0
        line.withUnsafeBytes { buffer in
            guard let base = buffer.baseAddress else { return }
            while written < buffer.count {
                let result = write(state.descriptor, base + written, buffer.count - written)
                if result < 0 {
                    if errno == EINTR { continue }
                    failure = errno
                    return
                }
                written += result
            }
        }
        if failure == 0, fsync(state.descriptor) != 0 { failure = errno }
        guard failure == 0 else {
            // Cut a partial line off so the chain stays intact (O_APPEND writes go to the end, after the cut).
            _ = ftruncate(state.descriptor, off_t(state.length))
            throw AuditLogError.writeFailed(path, errno: failure)
        }
        state.length += line.count
        state.previousHash = sealed.hash
        state.nextSequence += 1
        return (state.nextSequence - 1, sealed.hash)
    }

    /// Records an event (``CoordinatorObserver``); a failure to write is logged and counted, never thrown.
    public func observe(_ event: CoordinatorEvent) {
        switch event {
        case .authenticationFailed, .connectionRefused:
            // Anyone can cause these without a key: rate-limited together.
            if !admitAuthenticationFailure() { return }
        case .connectionsChanged:
            return
        default:
            break
        }
        let (kind, fields) = Self.fields(of: event)
        record(kind: kind, fields: fields)
    }

    /// What the log vouches for now (read from the file: the start-up check against the store).
    ///
    /// - Throws: ``AuditLogError`` if the file cannot be read.
    func currentIndex() throws(AuditLogError) -> AuditIndex {
        let contents = try state.withLockedValue { state in
            Result { () throws(AuditLogError) in try Self.readAll(state.descriptor, path: path) }
        }.get()
        return AuditIndex(contents: contents[...])
    }

    /// Records an event and throws if it could not be written and synced (``AuditLogError/writeFailed(_:errno:)``).
    public func observeDurably(_ event: CoordinatorEvent) throws {
        let (kind, fields) = Self.fields(of: event)
        do {
            try append(kind: kind, fields: fields)
        } catch {
            writeFailures.increment()
            logger.error("cannot write the audit log", metadata: ["error": "\(error)"])
            throw error
        }
    }

    private func record(kind: String, fields: [String: AuditValue]) {
        do {
            try append(kind: kind, fields: fields)
        } catch {
            writeFailures.increment()
            logger.critical("audit record lost", metadata: ["kind": "\(kind)", "error": "\(error)"])
        }
    }

    /// Rate limit of `authentication_failed` records; writes the summary of a finished window first.
    private func admitAuthenticationFailure() -> Bool {
        let now = ContinuousClock.now
        let (admitted, suppressed) = state.withLockedValue { state -> (Bool, Int) in
            var summary = 0
            if now - state.windowStart >= .seconds(60) {
                summary = state.suppressed
                state.windowStart = now
                state.failuresInWindow = 0
                state.suppressed = 0
            }
            state.failuresInWindow += 1
            let admitted = state.failuresInWindow <= Self.authenticationFailuresPerMinute
            if !admitted { state.suppressed += 1 }
            return (admitted, summary)
        }
        if suppressed > 0 {
            record(kind: "authentication_failures_suppressed", fields: [
                "count": .integer(Int64(suppressed)), "limit_per_minute": .integer(Int64(Self.authenticationFailuresPerMinute)),
            ])
        }
        return admitted
    }

    private func recoverTornTail(_ torn: [UInt8], bytes: Int) throws(AuditLogError) {
        let sequence = state.withLockedValue { $0.nextSequence }
        let side = "\(path).torn-\(sequence)"
        do {
            try Data(torn).write(to: URL(fileURLWithPath: side), options: [.atomic])
        } catch {
            throw AuditLogError.cannotRepair(path, reason: "cannot save the unfinished last line to \(side): \(error)")
        }
        let length = state.withLockedValue { $0.length }
        let descriptor = state.withLockedValue { $0.descriptor }
        guard ftruncate(descriptor, off_t(length)) == 0, fsync(descriptor) == 0 else {
            throw AuditLogError.cannotRepair(path, reason: "cannot cut the unfinished last line (errno \(errno))")
        }
        logger.error("audit log ended in an unfinished record (a crash during a write?); it was moved aside", metadata: [
            "path": "\(path)", "bytes": "\(bytes)", "saved_to": "\(side)",
        ])
        try append(kind: "log_recovered", fields: [
            "torn_bytes": .integer(Int64(bytes)), "torn_blake2b": .string(AuditChain.hex(Blake2b.hash(torn))),
            "saved_to": .string(side),
        ])
    }

    private static func readAll(_ descriptor: Int32, path: String) throws(AuditLogError) -> [UInt8] {
        var contents: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        var offset: off_t = 0
        while true {
            let count = chunk.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, $0.count, offset) }
            if count < 0 {
                if errno == EINTR { continue }
                throw AuditLogError.cannotOpen(path, errno: errno)
            }
            if count == 0 { return contents }
            contents += chunk[0..<count]
            offset += off_t(count)
        }
    }

    /// Makes a newly created file's directory entry durable.
    private static func syncDirectory(of path: String) {
        let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
        let descriptor = Glibc.open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { return }
        _ = fsync(descriptor)
        close(descriptor)
    }
}

/// Why the audit log could not be opened or written.
public enum AuditLogError: Error, Sendable, CustomStringConvertible {
    case cannotOpen(String, errno: Int32)
    /// The existing file fails verification; the coordinator will not extend a chain it cannot vouch for.
    case brokenChain(String, [AuditProblem])
    case cannotRepair(String, reason: String)
    case writeFailed(String, errno: Int32)
    /// Another process (a second daemon on the same configuration) holds the log.
    case inUse(String)

    public var description: String {
        switch self {
        case let .cannotOpen(path, code): return "cannot open the audit log \(path): \(String(cString: strerror(code)))"
        case let .brokenChain(path, problems):
            let shown = problems.prefix(5).map { "  \($0)" }.joined(separator: "\n")
            return "the audit log \(path) fails verification (\(problems.count) problem(s)); it is left untouched — "
                + "keep it as evidence, move it aside and restart to begin a new log:\n\(shown)"
        case let .cannotRepair(path, reason): return "cannot recover the audit log \(path): \(reason)"
        case let .writeFailed(path, code): return "cannot write the audit log \(path): \(String(cString: strerror(code)))"
        case let .inUse(path): return "the audit log \(path) is in use by another process (is another secaggd running?)"
        }
    }
}
