import Foundation
import Yams

/// Everything `secaggd` reads from its configuration file and environment: the coordinator's settings
/// (``ConfigurationFile``) plus the operations sections — the audit log and the metrics endpoint.
///
/// ```yaml
/// audit:
///   path: /var/lib/secagg/audit.log   # hash-chained audit log (no audit log when absent)
/// metrics:
///   enabled: false                    # serve /metrics, /healthz, /readyz over HTTP
///   host: 127.0.0.1
///   port: 9461
/// ```
public struct DaemonConfiguration: Sendable {
    public var coordinator: CoordinatorSettings
    /// The audit log file, or nil for none.
    public var auditPath: String?
    public var metrics: MetricsEndpointSettings
    /// The environment overrides that were applied (`NAME -> key`), for `--check-config`.
    public var appliedOverrides: [String]

    struct Operations: Decodable {
        enum CodingKeys: String, CodingKey, CaseIterable { case audit, metrics }

        struct Audit: Decodable {
            enum CodingKeys: String, CodingKey, CaseIterable { case path }
            var path: String?
        }

        struct Metrics: Decodable {
            enum CodingKeys: String, CodingKey, CaseIterable { case enabled, host, port }
            var enabled: Bool?
            var host: String?
            var port: Int?
        }

        var audit: Audit?
        var metrics: Metrics?
    }

    /// The folders the daemon keeps its state in (the store's, the results, the audit log's) must not be writable by
    /// group or others: whoever can write there can swap the store, a result or the log for their own.
    static func stateFolderProblems(coordinator: CoordinatorSettings, auditPath: String?) -> [String] {
        var folders: [(key: String, path: String)] = []
        if let store = coordinator.storePath {
            folders.append(("store.path", URL(fileURLWithPath: store).deletingLastPathComponent().path))
        }
        if let results = coordinator.resultsDirectory { folders.append(("results_directory", results.path)) }
        if let auditPath { folders.append(("audit.path", URL(fileURLWithPath: auditPath).deletingLastPathComponent().path)) }
        var problems: [String] = []
        for (key, folder) in folders {
            var status = stat()
            guard stat(folder, &status) == 0 else { continue }  // not created yet: the daemon creates it 0700
            let mode = status.st_mode & 0o7777
            if mode & 0o022 != 0 {
                problems.append("\(key): the folder \(folder) is writable by \(mode & 0o002 != 0 ? "everyone" : "its group") "
                    + "(mode \(String(mode, radix: 8))); the daemon keeps its state only in a folder that others cannot write "
                    + "(chmod go-w \(folder))")
            }
        }
        return problems
    }

    /// Reads the file at `path`, applies the `SECAGGD_…` overrides in `environment`
    /// (``EnvironmentOverrides``) and validates the result.
    ///
    /// - Throws: ``CoordinatorConfigurationError`` listing every problem in the file, the overrides and the
    ///   coordinator settings together.
    public static func load(from path: String, environment: [String: String]) throws(CoordinatorConfigurationError) -> DaemonConfiguration {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw CoordinatorConfigurationError(problems: ["cannot read the configuration file \(path)"])
        }
        return try parse(text, relativeTo: URL(fileURLWithPath: path).deletingLastPathComponent(), environment: environment)
    }

    /// Parses configuration text with overrides; relative paths resolve against `folder`.
    ///
    /// - Throws: ``CoordinatorConfigurationError``.
    public static func parse(
        _ text: String, relativeTo folder: URL, environment: [String: String]
    ) throws(CoordinatorConfigurationError) -> DaemonConfiguration {
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch {
            throw CoordinatorConfigurationError(problems: ["not valid YAML: \(error)"])
        }
        // A key the daemon does not know is an error, never a silently ignored setting (a misspelt `privacy:`
        // would run the task without noise). Checked on the file as written, so problems name its lines.
        if let root {
            let unknown = ConfigurationSchema.file.unknownKeys(in: root)
            guard unknown.isEmpty else { throw CoordinatorConfigurationError(problems: unknown) }
        }
        let (document, applied, overrideProblems) = EnvironmentOverrides.apply(environment, to: root ?? Node(""))
        let effective: String
        do {
            effective = try Yams.serialize(node: document)
        } catch {
            throw CoordinatorConfigurationError(problems: overrideProblems + ["cannot apply the overrides: \(error)"])
        }

        var problems = overrideProblems
        var coordinator: CoordinatorSettings?
        do {
            coordinator = try ConfigurationFile.parse(effective, relativeTo: folder, checkingKeys: false, node: document)
        } catch let error as CoordinatorConfigurationError {
            problems += error.problems
        } catch {
            problems.append("\(error)")
        }

        var operations = Operations()
        do {
            operations = try ConfigurationDecoding.decode(Operations.self, from: document)
        } catch {
            problems += error.problems.filter { !problems.contains($0) }
        }
        var metrics = MetricsEndpointSettings()
        if let section = operations.metrics {
            metrics.enabled = section.enabled ?? false
            if let host = section.host {
                if host.isEmpty { problems.append("metrics.host must not be empty") } else { metrics.host = host }
            }
            if let port = section.port {
                if (0...65535).contains(port) { metrics.port = port } else { problems.append("metrics.port must be 0...65535, not \(port)") }
            }
        }
        var auditPath: String?
        if let file = operations.audit?.path {
            let resolved = file.hasPrefix("/") ? file : folder.appendingPathComponent(file).path
            let directory = URL(fileURLWithPath: resolved).deletingLastPathComponent().path
            var isDirectory: ObjCBool = false
            if !FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) || !isDirectory.boolValue {
                problems.append("audit.path: the folder \(directory) does not exist")
            } else if !FileManager.default.isWritableFile(atPath: directory) && !FileManager.default.isWritableFile(atPath: resolved) {
                problems.append("audit.path: \(resolved) is not writable by this user")
            }
            auditPath = resolved
        }
        if let coordinator {
            problems += Self.stateFolderProblems(coordinator: coordinator, auditPath: auditPath)
            if !(0...65535).contains(coordinator.port) { problems.append("listen.port must be 0...65535, not \(coordinator.port)") }
            if metrics.enabled, metrics.port != 0, metrics.port == coordinator.port {
                problems.append("metrics.port \(metrics.port) is also listen.port: give the metrics endpoint its own port")
            }
        }
        guard problems.isEmpty, let coordinator else { throw CoordinatorConfigurationError(problems: problems) }
        return DaemonConfiguration(coordinator: coordinator, auditPath: auditPath, metrics: metrics, appliedOverrides: applied)
    }
}
