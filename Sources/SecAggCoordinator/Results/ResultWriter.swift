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

    /// Writes `result` as `<directory>/<task>/<round id>.json`, replacing any earlier file of that round.
    ///
    /// - Throws: Foundation's file errors, or `EncodingError`.
    public func write(_ result: PublishedResult) throws {
        let folder = directory.appendingPathComponent(safeName(result.task), isDirectory: true)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try Self.replace(folder.appendingPathComponent("\(result.roundID).json"), with: try PublishedResult.encoded(result))
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
