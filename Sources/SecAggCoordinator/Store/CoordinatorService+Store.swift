import Foundation
import Logging

extension CoordinatorService {
    /// Opens the configured store (or one in memory), marks the rounds a crash interrupted as aborted and
    /// settles their ledger entries, and adds the configuration's clients.
    ///
    /// - Throws: ``CoordinatorConfigurationError`` naming the store's problem.
    static func openStore(settings: CoordinatorSettings, logger: Logger) throws -> CoordinatorStore {
        do {
            let store = try settings.storePath.map { try CoordinatorStore(path: $0) } ?? CoordinatorStore.inMemory()
            for round in try store.recoverInterruptedRounds(reason: "coordinator restarted") {
                logger.warning("a round interrupted by the restart is marked aborted", metadata: [
                    "task": "\(logSafe(round.task))", "round": "\(round.roundID)",
                    "reached_phase": "\(round.reachedPhase.map { "\($0)" } ?? "none")",
                ])
            }
            let seeded = try store.seed(clients: settings.enrolled)
            for key in seeded.revoked {
                logger.warning("a configured client was revoked by an operator and stays revoked", metadata: [
                    "identity": "\(key)",
                ])
            }
            return store
        } catch let error as StoreError {
            throw CoordinatorConfigurationError(problems: ["store: \(error)"])
        }
    }

    /// The tasks to run: the configuration's (saved to the store, replacing any stored task of the same name),
    /// then those created with `secagg admin task create` in earlier runs.
    ///
    /// - Throws: ``CoordinatorConfigurationError`` if the store cannot be written.
    static func storedTasks(settings: CoordinatorSettings, store: CoordinatorStore, logger: Logger) throws -> [TaskConfiguration] {
        var tasks = settings.tasks
        do {
            for task in settings.tasks {
                try store.saveTask(
                    name: task.name, definition: ConfigurationFile.json(ConfigurationFile.definition(of: task)),
                    source: "config")
            }
            let configured = Set(settings.tasks.map(\.name))
            for stored in try store.tasks() where stored.source == "admin" && !configured.contains(stored.name) {
                do {
                    tasks.append(try ConfigurationFile.parseTask(stored.definition).0)
                } catch {
                    logger.error("a stored task is invalid and does not run", metadata: [
                        "task": "\(logSafe(stored.name))", "error": "\(error)",
                    ])
                }
            }
        } catch let error as StoreError {
            throw CoordinatorConfigurationError(problems: ["store: \(error)"])
        }
        return tasks
    }
}
