import NIOConcurrencyHelpers

/// The coordinator's task schedulers by name. Tasks from the configuration are added before the service runs;
/// `secagg admin task create` adds more while it runs, and they start at once. Every scheduler runs as a child
/// task of ``runAll(whenIdle:)``, itself a child of the service's task group.
final class TaskRegistry: Sendable {
    private enum Command {
        case start(TaskScheduler)
        case stop
    }

    private struct State {
        var schedulers: [String: TaskScheduler] = [:]
        var running = 0
        var started = false
        var stopped = false
    }

    private let state = NIOLockedValueBox(State())
    private let commands: AsyncStream<Command>
    private let send: AsyncStream<Command>.Continuation

    init() {
        (commands, send) = AsyncStream.makeStream(of: Command.self)
    }

    subscript(name: String) -> TaskScheduler? {
        state.withLockedValue { $0.schedulers[name] }
    }

    /// The task names, sorted.
    var names: [String] { state.withLockedValue { $0.schedulers.keys.sorted() } }

    /// Every scheduler, by task name.
    var all: [TaskScheduler] {
        state.withLockedValue { state in state.schedulers.keys.sorted().compactMap { state.schedulers[$0] } }
    }

    /// Adds a scheduler (and runs it if the service is running).
    ///
    /// - Returns: false if a task of that name exists or the service has stopped.
    @discardableResult
    func add(_ scheduler: TaskScheduler) -> Bool {
        let start = state.withLockedValue { state -> Bool? in
            guard state.schedulers[scheduler.name] == nil, !state.stopped else { return nil }
            state.schedulers[scheduler.name] = scheduler
            if state.started { state.running += 1 }
            return state.started
        }
        guard let start else { return false }
        if start { send.yield(.start(scheduler)) }
        return true
    }

    /// Runs every scheduler, and those added later, as child tasks until ``stopAll()``; returns when they have all
    /// ended (a round in flight aborts with `cancelled` when they are stopped).
    ///
    /// - Parameter whenIdle: called each time the last running scheduler ends by itself (every task has run its
    ///   configured rounds).
    func runAll(whenIdle: @escaping @Sendable () -> Void) async {
        let initial = state.withLockedValue { state -> [TaskScheduler] in
            state.started = true
            state.running = state.schedulers.count
            return state.schedulers.keys.sorted().compactMap { state.schedulers[$0] }
        }
        if initial.isEmpty { whenIdle() }
        await withDiscardingTaskGroup { group in
            for scheduler in initial { group.addTask { await self.run(scheduler, whenIdle: whenIdle) } }
            for await command in commands {
                switch command {
                case let .start(scheduler):
                    group.addTask { await self.run(scheduler, whenIdle: whenIdle) }
                case .stop:
                    group.cancelAll()
                }
            }
        }
    }

    private func run(_ scheduler: TaskScheduler, whenIdle: @Sendable () -> Void) async {
        await scheduler.run()
        let idle = state.withLockedValue { state -> Bool in
            state.running -= 1
            return state.running == 0 && !state.stopped
        }
        if idle { whenIdle() }
    }

    /// Stops every scheduler (the rounds in flight abort) and ends ``runAll(whenIdle:)`` once they have ended.
    func stopAll() {
        state.withLockedValue { $0.stopped = true }
        send.yield(.stop)
        send.finish()
    }
}
