import Synchronization

/// The coordinator's task schedulers by name. Tasks from the configuration are added before the service runs;
/// `secagg admin task create` adds more while it runs, and they start at once.
final class TaskRegistry: Sendable {
    private struct State {
        var schedulers: [String: TaskScheduler] = [:]
        var running: [Task<Void, Never>] = []
        var started = false
        var stopped = false
    }

    private let state = Mutex(State())

    subscript(name: String) -> TaskScheduler? {
        state.withLock { $0.schedulers[name] }
    }

    /// The task names, sorted.
    var names: [String] { state.withLock { $0.schedulers.keys.sorted() } }

    /// Every scheduler, by task name.
    var all: [TaskScheduler] { state.withLock { state in state.schedulers.keys.sorted().compactMap { state.schedulers[$0] } } }

    /// Adds a scheduler (and runs it if the service is running).
    ///
    /// - Returns: false if a task of that name exists or the service has stopped.
    @discardableResult
    func add(_ scheduler: TaskScheduler) -> Bool {
        state.withLock { state in
            guard state.schedulers[scheduler.task.name] == nil, !state.stopped else { return false }
            state.schedulers[scheduler.task.name] = scheduler
            if state.started { state.running.append(Task { await scheduler.run() }) }
            return true
        }
    }

    /// Runs every scheduler; returns their tasks.
    func startAll() -> [Task<Void, Never>] {
        state.withLock { state in
            state.started = true
            state.running = state.schedulers.values.map { scheduler in Task { await scheduler.run() } }
            return state.running
        }
    }

    /// Cancels every scheduler (the rounds in flight abort); returns their tasks to await.
    func stopAll() -> [Task<Void, Never>] {
        state.withLock { state in
            state.stopped = true
            for task in state.running { task.cancel() }
            return state.running
        }
    }
}
