import Foundation

extension VectorSuite {
    /// Verifies every vector file in `directory`; a missing file is a mismatch.
    public static func verify(directory: String) -> [VectorMismatch] {
        var mismatches: [VectorMismatch] = []
        for name in fileNames {
            let path = URL(fileURLWithPath: directory).appendingPathComponent(name).path
            guard let data = FileManager.default.contents(atPath: path) else {
                mismatches.append(VectorMismatch(file: name, path: "", detail: "missing from \(directory)"))
                continue
            }
            mismatches += verify(name: name, contents: String(decoding: data, as: UTF8.self))
        }
        return mismatches
    }

    /// Generates every file into `directory` (created if missing).
    ///
    /// - Returns: the files written and their sizes.
    /// - Throws: ``VectorError`` from generation, or the file system's error.
    public static func write(to directory: String) throws -> [(name: String, bytes: Int)] {
        let files = try generate()
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var written: [(name: String, bytes: Int)] = []
        for file in files {
            let data = Data(file.contents.utf8)
            try data.write(to: URL(fileURLWithPath: directory).appendingPathComponent(file.name))
            written.append((file.name, data.count))
        }
        return written
    }
}
