import Foundation
import GRDB
#if canImport(Glibc)
import Glibc
#endif

/// Opening a daemon's SQLite store the one way both daemons do (secaggd's ``CoordinatorStore``, secagg-root's store):
/// an exclusive lock on `<path>.lock` first, so only one process ever uses a store (crash recovery assumes that what
/// is marked running belongs to no live process; the kernel drops the lock when the process dies, even by
/// `kill -9`), then a WAL database pool with `synchronous = FULL`, so a commit that returned survives a power cut.
public enum StoreFile {
    /// - Parameter owner: The program expected to hold the lock, named in the refusal ("secaggd").
    /// - Returns: the pool and the open lock descriptor (close it after the pool, to release the lock).
    /// - Throws: ``StoreError/unusable(path:reason:)`` if the lock file cannot be opened, another process holds it,
    ///   or the database cannot be opened.
    public static func openLocked(_ path: String, owner: String) throws -> (pool: DatabasePool, lock: Int32) {
        let lock = open(path + ".lock", O_CREAT | O_RDWR | O_CLOEXEC, 0o600)
        guard lock >= 0 else {
            throw StoreError.unusable(path: path, reason: "cannot open \(path).lock: \(String(cString: strerror(errno)))")
        }
        guard flock(lock, LOCK_EX | LOCK_NB) == 0 else {
            close(lock)
            throw StoreError.unusable(path: path, reason: "another process (a running \(owner)?) has it open")
        }
        var configuration = Configuration()
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        configuration.busyMode = .timeout(5)
        do {
            return (try DatabasePool(path: path, configuration: configuration), lock)
        } catch {
            close(lock)
            throw StoreError.unusable(path: path, reason: "\(error)")
        }
    }
}
