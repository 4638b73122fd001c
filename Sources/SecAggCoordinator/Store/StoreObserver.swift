import Logging

/// Records in the store what the events say about rounds that the round driver's journal (``TaskRecorder``)
/// does not: a round's parameters and participants when it starts. (Phases and results, which the crash rules of
/// ``CoordinatorStore`` depend on, go through the journal, whose failures abort the round.)
struct StoreObserver: CoordinatorObserver {
    let store: CoordinatorStore
    let logger: Logger

    func observe(_ event: CoordinatorEvent) {
        do {
            switch event {
            case let .roundStarting(task, _, parameters, identities):
                try store.recordRoundStarting(task: task, parameters: parameters, identities: identities)
            default:
                break
            }
        } catch {
            logger.error("could not record the round's progress in the store", metadata: ["error": "\(error)"])
        }
    }
}
