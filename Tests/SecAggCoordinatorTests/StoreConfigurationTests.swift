import Foundation
import SecAggCoordinator
import SecAggIdentity
import SecAggTransport
import SecAggTesting
import Testing

/// The `store` and `admin` keys of the configuration file: safe defaults, and one explained problem per mistake.
@Suite("Configuration: store and admin")
struct StoreConfigurationTests {
    let folder: URL
    let adminKey: String

    init() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("secagg-config-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        _ = try IdentityFile.create(at: folder.appendingPathComponent("coordinator.key").path)
        adminKey = "\(try IdentityFile.create(at: folder.appendingPathComponent("admin.key").path).verifyingKey)"
    }

    func parse(_ extra: String) throws -> CoordinatorSettings {
        try ConfigurationFile.parse("""
            identity: coordinator.key
            enrollment: {keys: ["\(adminKey)"]}
            \(extra)
            tasks:
              - {name: t, dimension: 4, max_input: 10, min_clients: 3, max_clients: 5}
            """, relativeTo: folder)
    }

    func problems(_ extra: String) -> [String] {
        defer { try? FileManager.default.removeItem(at: folder) }
        do {
            _ = try parse(extra)
            return []
        } catch let error as CoordinatorConfigurationError {
            return error.problems
        } catch {
            return ["\(error)"]
        }
    }

    @Test("defaults: the store next to the file, no admin listener")
    func defaults() throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        let settings = try parse("")
        #expect(settings.storePath == folder.appendingPathComponent("secaggd.sqlite").path)
        #expect(settings.admin == nil)
    }

    @Test("an admin section binds to localhost:7462 unless told otherwise")
    func adminDefaults() throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        let settings = try parse("admin: {keys: [\"\(adminKey)\"]}\nstore: {path: /tmp/elsewhere.sqlite}")
        let admin = try #require(settings.admin)
        #expect(admin.host == "127.0.0.1" && admin.port == 7462 && admin.keys.count == 1)
        #expect(settings.storePath == "/tmp/elsewhere.sqlite")
    }

    @Test("each mistake is explained", arguments: [
        ("admin: {keys: []}", "admin.keys: list at least one admin public key"),
        ("admin: {port: 7462}", "admin.keys: list at least one admin public key"),
        ("admin: {keys: [\"abcd\"]}", "admin.keys[0]:"),
        ("admin: {port: 70000, keys: [KEY]}", "admin.port must be 0...65535"),
        ("store: {path: no/such/folder/s.sqlite}", "store.path: the folder"),
        ("store: {path: .}", "store.path:"),
        ("listen: {port: -1}", "listen.port must be 0...65535"),
    ])
    func mistakes(_ extra: String, _ expected: String) {
        let found = problems(extra.replacingOccurrences(of: "KEY", with: "\"\(adminKey)\""))
        #expect(found.count == 1 && found.contains { $0.contains(expected) }, "\(found)")
    }
}
