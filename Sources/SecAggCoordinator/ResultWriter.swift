import Foundation
import SecAggPrivacy
import SecAggProtocol
import SecAggWire

/// Writes each round's outcome as one JSON file, `<directory>/<task>/<round id>.json` (README "Results"),
/// written to a temporary name and renamed, so a reader never sees half a file. Aborted rounds are recorded too,
/// with their reason. Files hold the released sum and survivor identities, never an individual input.
public struct ResultWriter: Sendable {
    public let directory: URL

    public init(directory: URL) {
        self.directory = directory
    }

    /// Writes `record`.
    ///
    /// - Throws: Foundation's file errors.
    public func write(_ record: RoundRecord) throws {
        let folder = directory.appendingPathComponent(safeName(record.task), isDirectory: true)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        var phases: [String: Double] = [:]
        for (phase, seconds) in record.phaseSeconds { phases["\(phase)"] = seconds }
        var counts: [String: Int] = [:]
        for (phase, count) in record.phaseCounts { counts["\(phase)"] = count }
        var dropped: [String: Int] = [:]
        for (phase, count) in record.droppedPerPhase { dropped["\(phase)"] = count }
        var object: [String: Any] = [
            "task": record.task,
            "round_id": "\(record.roundID)",
            "finished_at": ISO8601DateFormatter().string(from: Date()),
            "outcome": record.abortReason == nil ? "completed" : "aborted",
            "clients": Int(record.parameters.invitedCount),
            "dimension": Int(record.parameters.dimension),
            "bits": Int(record.parameters.bits),
            "threshold": Int(record.parameters.threshold),
            "graph": "\(record.parameters.graph)",
            "mode": record.parameters.mode == .active ? "active" : "honest",
            "survivors": record.survivors.map { Int($0) },
            "survivor_identities": record.survivorIdentities,
            "phase_seconds": phases,
            "phase_counts": counts,
            "dropped_per_phase": dropped,
            "wall_seconds": record.wallSeconds,
        ]
        if let sum = record.sum { object["sum"] = sum.map { NSNumber(value: $0) } }
        if let reason = record.abortReason {
            object["abort_code"] = Int(reason.code.rawValue)
            object["abort_reason"] = reason.description
        }
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        try Self.replace(folder.appendingPathComponent("\(record.roundID).json"), with: data)
    }

    /// Writes `data` to a temporary file, syncs it, renames it over `target` and syncs the folder: after a crash the
    /// file is either the old one or the whole new one, and once this returns it survives a power cut.
    ///
    /// - Throws: Foundation's file errors.
    static func replace(_ target: URL, with data: Data) throws {
        let temporary = target.deletingLastPathComponent().appendingPathComponent(".\(target.lastPathComponent).tmp")
        try data.write(to: temporary)
        let file = try FileHandle(forUpdating: temporary)
        try file.synchronize()
        try file.close()
        guard rename(temporary.path, target.path) == 0 else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: target.path])
        }
        let folder = open(target.deletingLastPathComponent().path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if folder >= 0 {
            _ = fsync(folder)
            close(folder)
        }
    }

    /// The task's saved privacy ledger, if any (`<directory>/<task>/privacy-ledger.json`).
    ///
    /// - Throws: ``CoordinatorConfigurationError`` if the file exists but is not a valid ledger.
    public func loadLedger(task: String) throws -> PrivacyBudget? {
        let file = ledgerURL(task: task)
        guard let data = FileManager.default.contents(atPath: file.path) else { return nil }
        do {
            return try JSONDecoder().decode(PrivacyBudget.self, from: data)
        } catch {
            throw CoordinatorConfigurationError(problems: ["\(file.path) is not a valid privacy ledger: \(error)"])
        }
    }

    /// Saves the ledger atomically and durably (``replace(_:with:)``).
    ///
    /// - Throws: Foundation's file errors.
    public func saveLedger(_ ledger: PrivacyBudget, task: String) throws {
        let file = ledgerURL(task: task)
        try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try Self.replace(file, with: try encoder.encode(ledger))
    }

    private func ledgerURL(task: String) -> URL {
        directory.appendingPathComponent(safeName(task), isDirectory: true).appendingPathComponent("privacy-ledger.json")
    }

    private func safeName(_ name: String) -> String {
        String(name.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == "." ? $0 : "_" })
    }
}
