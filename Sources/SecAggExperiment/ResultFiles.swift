import Foundation

/// The two files a sweep writes side by side, `NAME.csv` and `NAME.jsonl`, one row per finished run, each row
/// written (and handed to the kernel) as soon as its run ends, so a sweep killed at any point keeps every row it
/// finished.
///
/// Opening with `resume` keeps the rows already there and reports their keys (the `command` column); a row present in
/// only one of the files (the sweep stopped between the two writes), or a line cut short, is dropped from both so
/// that the run is done again exactly once.
public final class ResultFiles {
    public let csvURL: URL
    public let jsonLinesURL: URL
    /// The keys (`command`) of the runs already in both files when opened.
    public private(set) var finishedKeys: Set<String> = []
    private let csv: FileHandle
    private let jsonLines: FileHandle

    /// Opens (creating) the result files.
    ///
    /// - Parameters:
    ///   - resume: Keep the rows already written and list their keys in ``finishedKeys``.
    ///   - overwrite: Without `resume`, replace existing files; if neither is set, existing files are an error.
    /// - Throws: ``ResultFilesError`` if the files exist and neither option allows it, if an existing CSV has other
    ///   columns than this version writes, or for I/O errors.
    public init(csvURL: URL, jsonLinesURL: URL, resume: Bool, overwrite: Bool = false) throws {
        self.csvURL = csvURL
        self.jsonLinesURL = jsonLinesURL
        let manager = FileManager.default
        let exists = manager.fileExists(atPath: csvURL.path) || manager.fileExists(atPath: jsonLinesURL.path)
        let header = CSV.line(ResultRow.columns)
        var csvText = header
        var jsonText = ""
        if exists, resume {
            let (keptCSV, keptJSON, keys) = try Self.finishedRows(csvURL: csvURL, jsonLinesURL: jsonLinesURL)
            csvText = header + keptCSV.joined()
            jsonText = keptJSON.joined()
            finishedKeys = keys
        } else if exists, !overwrite {
            throw ResultFilesError(
                "\(csvURL.path) or \(jsonLinesURL.path) exists: use --resume to continue that sweep or --overwrite")
        }
        // Rewritten whole (it only ever shrinks by the rows not in both files), then appended row by row.
        try Data(csvText.utf8).write(to: csvURL)
        try Data(jsonText.utf8).write(to: jsonLinesURL)
        csv = try FileHandle(forWritingTo: csvURL)
        jsonLines = try FileHandle(forWritingTo: jsonLinesURL)
        try csv.seekToEnd()
        try jsonLines.seekToEnd()
    }

    deinit {
        try? csv.close()
        try? jsonLines.close()
    }

    /// Appends one row to both files (JSON Lines first, then CSV: the CSV's rows are the sweep's record of what is
    /// done) and flushes them.
    public func append(_ row: ResultRow) throws {
        try jsonLines.write(contentsOf: Data(row.jsonLine.utf8))
        try jsonLines.synchronize()
        try csv.write(contentsOf: Data(row.csvLine.utf8))
        try csv.synchronize()
    }

    /// The complete rows present in both files (as their text lines) and their keys.
    private static func finishedRows(csvURL: URL, jsonLinesURL: URL) throws -> ([String], [String], Set<String>) {
        let csvText = (try? String(contentsOf: csvURL, encoding: .utf8)) ?? ""
        let jsonText = (try? String(contentsOf: jsonLinesURL, encoding: .utf8)) ?? ""
        let records = CSV.records(csvText)
        let commandColumn = ResultRow.columns.firstIndex(of: "command")!
        if let header = records.first, header != ResultRow.columns {
            throw ResultFilesError("\(csvURL.path) has other columns than this version of secagg writes: "
                                   + "start a new results file")
        }
        var csvByKey: [String: String] = [:]
        var order: [String] = []
        for record in records.dropFirst() where record.count == ResultRow.columns.count {
            let key = record[commandColumn]
            if csvByKey[key] == nil { order.append(key) }
            csvByKey[key] = CSV.line(record)
        }
        var jsonByKey: [String: String] = [:]
        // Only lines ending in a line break are complete.
        let lines = jsonText.split(separator: "\n", omittingEmptySubsequences: true)
        let complete = jsonText.hasSuffix("\n") ? lines : lines.dropLast()
        for line in complete {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let key = object["command"] as? String else { continue }
            jsonByKey[key] = String(line) + "\n"
        }
        let keys = order.filter { jsonByKey[$0] != nil }
        return (keys.compactMap { csvByKey[$0] }, keys.compactMap { jsonByKey[$0] }, Set(keys))
    }

    /// Reads the rows of a results CSV.
    ///
    /// - Throws: ``ResultFilesError`` if the file has no header or lacks a column a figure needs; I/O errors.
    public static func readRows(csvURL: URL) throws -> [ResultRow] {
        let records = CSV.records(try String(contentsOf: csvURL, encoding: .utf8))
        guard let header = records.first else { throw ResultFilesError("\(csvURL.path) is empty") }
        let positions = ResultRow.columns.map { header.firstIndex(of: $0) }
        return records.dropFirst().map { record in
            ResultRow(csvCells: positions.map { position in
                position.flatMap { $0 < record.count ? record[$0] : nil } ?? ""
            })
        }
    }
}

/// Why result files cannot be opened or read.
public struct ResultFilesError: Error, Sendable, CustomStringConvertible {
    public var description: String

    public init(_ description: String) { self.description = description }
}
