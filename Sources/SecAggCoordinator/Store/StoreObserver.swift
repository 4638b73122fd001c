import Logging

/// Records the progress of rounds in the store as the events arrive: a round's parameters and participants when
/// it starts, and each phase as it opens. The round driver reports events before it sends the messages they
/// describe, so a phase is on disk before any client can answer it (the crash rules of ``CoordinatorStore``).
struct StoreObserver: CoordinatorObserver {
    let store: CoordinatorStore
    let logger: Logger

    func observe(_ event: CoordinatorEvent) {
        do {
            switch event {
            case let .roundStarting(task, _, parameters, identities):
                try store.recordRoundStarting(task: task, parameters: parameters, identities: identities)
            case let .phaseStarted(_, roundID, phase, participants):
                try store.recordPhase(roundID: roundID, phase: phase, participants: participants)
            default:
                break
            }
        } catch {
            logger.error("could not record the round's progress in the store", metadata: ["error": "\(error)"])
        }
    }
}
