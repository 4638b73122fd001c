import Logging
import SecAggCrypto

/// Gathers the clients that joined one task and runs its rounds back to back.
///
/// A round starts when `maximumClients` are waiting, or when `minimumClients` have waited for the gather window;
/// it takes at most `maximumClients` of them in arrival order. Clients that join during a round wait for the next.
actor TaskScheduler {
    let task: TaskConfiguration
    private let logger: Logger
    private let results: ResultWriter?
    private var waiting: [Participant] = []
    private var waitingIdentities: Set<Ed25519.VerifyingKey> = []
    private var activeIdentities: Set<Ed25519.VerifyingKey> = []
    private var firstWaitStart: ContinuousClock.Instant?
    private var wakeUp: CheckedContinuation<Void, Never>?
    private(set) var completedRounds = 0
    /// Every round's record, newest last (kept for tests and status; bounded).
    private(set) var history: [RoundRecord] = []

    init(task: TaskConfiguration, results: ResultWriter?, logger: Logger) {
        self.task = task
        self.results = results
        var logger = logger
        logger[metadataKey: "task"] = "\(task.name)"
        self.logger = logger
    }

    /// Adds a joined client to the queue; false if that identity is already queued or in a round.
    func enqueue(_ participant: Participant) -> Bool {
        guard !waitingIdentities.contains(participant.identity), !activeIdentities.contains(participant.identity) else {
            return false
        }
        waiting.append(participant)
        waitingIdentities.insert(participant.identity)
        if firstWaitStart == nil { firstWaitStart = ContinuousClock.now }
        wakeUp?.resume()
        wakeUp = nil
        return true
    }

    /// Removes a client whose connection ended while it was waiting.
    func remove(_ participant: Participant) {
        guard let position = waiting.firstIndex(where: { $0 === participant }) else { return }
        waiting.remove(at: position)
        waitingIdentities.remove(participant.identity)
        if waiting.isEmpty { firstWaitStart = nil }
    }

    /// Number of clients waiting for a round.
    var waitingCount: Int { waiting.count }

    /// Runs rounds until cancelled or until the configured number of rounds is reached.
    func run() async {
        defer { releaseWaiting() }
        while !Task.isCancelled {
            if let limit = task.rounds, completedRounds >= limit { return }
            guard let cohort = await nextCohort() else { return }
            let record = await RoundDriver(task: task, participants: cohort, logger: logger).run()
            for participant in cohort { activeIdentities.remove(participant.identity) }
            completedRounds += 1
            history.append(record)
            if history.count > 100 { history.removeFirst(history.count - 100) }
            do {
                try results?.write(record)
            } catch {
                logger.error("could not write the round result", metadata: ["error": "\(error)"])
            }
        }
    }

    /// Closes the connections of clients still waiting: this task runs no more rounds.
    private func releaseWaiting() {
        for participant in waiting { participant.close() }
        waiting.removeAll()
        waitingIdentities.removeAll()
        firstWaitStart = nil
    }

    /// Waits until a round can start and takes its participants from the queue; nil when cancelled.
    private func nextCohort() async -> [Participant]? {
        while !Task.isCancelled {
            let ready = waiting.count >= task.maximumClients
                || (waiting.count >= task.minimumClients
                    && (firstWaitStart.map { ContinuousClock.now - $0 >= task.gatherWindow } ?? false))
            if ready {
                let cohort = Array(waiting.prefix(task.maximumClients))
                waiting.removeFirst(cohort.count)
                for participant in cohort {
                    waitingIdentities.remove(participant.identity)
                    activeIdentities.insert(participant.identity)
                }
                firstWaitStart = waiting.isEmpty ? nil : ContinuousClock.now
                return cohort
            }
            await sleepUntilChange()
        }
        return nil
    }

    /// Sleeps until a client joins or 100 ms pass (so the gather window and cancellation are noticed).
    private func sleepUntilChange() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            wakeUp = continuation
            Task { [weak self] in
                try? await Task.sleep(for: .milliseconds(100))
                await self?.wake()
            }
        }
    }

    private func wake() {
        wakeUp?.resume()
        wakeUp = nil
    }
}
