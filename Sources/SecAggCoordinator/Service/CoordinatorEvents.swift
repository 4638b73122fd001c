import Foundation
import SecAggPrivacy
import SecAggProtocol
import SecAggWire

/// Something security- or operations-relevant that happened in the coordinator.
///
/// The service reports every event to its ``CoordinatorObserver``s (the durable store, the audit log, metrics).
/// Events carry public facts only — identities, counts, parameters, reasons, the released sum — never a secret,
/// a share or an individual client's vector.
public enum CoordinatorEvent: Sendable {
    /// A cohort was taken from the queue and a round is about to run. `identities` are hex Ed25519 keys in
    /// participant-index order (index 1 first).
    case roundStarting(task: String, roundID: RoundID, parameters: RoundParameters, identities: [String])
    /// A phase of a round opened with `participants` clients still in it.
    case phaseStarted(task: String, roundID: RoundID, phase: RoundPhase, participants: Int)
    /// A participant left a round (timeout, disconnection or protocol violation).
    case participantDropped(task: String, roundID: RoundID, identity: String, phase: RoundPhase, reason: DropReason)
    /// The privacy budget was charged for a round before it started; `ledger` is the budget after the charge.
    case privacyCharged(task: String, roundID: RoundID, entry: BudgetEntry, ledger: PrivacyBudget)
    /// A round was refused before it started because it would exceed the task's privacy budget.
    case budgetRefused(task: String, roundID: RoundID, reason: String)
    /// A task with differential privacy was loaded (at start, or created by an operator) with its ledger as the
    /// store has it, so the budget is visible (metrics, audit) before any round runs.
    case ledgerLoaded(task: String, ledger: PrivacyBudget)
    /// The ledger entry of a finished round was settled (kept for a release, refunded or kept for an abort);
    /// `ledger` is the budget after settling.
    case privacySettled(task: String, roundID: RoundID, ledger: PrivacyBudget)
    /// A round ended, released or aborted; `record` carries the released (noised, if DP) sum or the abort reason.
    case roundFinished(RoundRecord)
    /// A connection failed before or during authentication (handshake error, unknown identity, timeout).
    case authenticationFailed(remote: String, reason: String)
    /// The number of open client connections changed (one admitted, or one ended): for the open-connections
    /// gauge and for tests that wait for it. Not audited (it is not security-relevant, and it is frequent).
    case connectionsChanged(open: Int)
    /// A connection was closed as soon as it was accepted: too many connections in all, or from its address.
    case connectionRefused(remote: String, reason: ConnectionRefusal)
    /// An authenticated client's join was refused.
    case joinRefused(task: String, identity: String, reason: String)
    /// A client identity was enrolled (`actor`: who did it, e.g. the admin key or "config").
    case clientEnrolled(identity: String, label: String, actor: String)
    /// A client identity was revoked; it can no longer connect.
    case clientRevoked(identity: String, actor: String)
    /// A task was created, changed or removed; `summary` describes the change in one line.
    case taskChanged(task: String, summary: String, actor: String)
    /// An operator changed a task's total privacy budget; `ledger` is the ledger under its new limit.
    case budgetChanged(task: String, ledger: PrivacyBudget, actor: String)
    /// An operator asked for a round to start now.
    case roundRequested(task: String, actor: String)
}

/// Why an accepted connection was closed at once (``CoordinatorEvent/connectionRefused(remote:reason:)``).
public enum ConnectionRefusal: String, Sendable, Hashable {
    /// The coordinator holds its maximum number of connections.
    case connectionLimit = "connection_limit"
    /// The remote address holds its maximum number of connections.
    case addressLimit = "address_limit"
}

/// Receives the coordinator's events. Called synchronously on the coordinator's tasks, in the order events
/// happen for one round; implementations must be quick and thread-safe, and must not throw — an observer that
/// cannot record an event logs the failure itself.
public protocol CoordinatorObserver: Sendable {
    /// Records `event`.
    func observe(_ event: CoordinatorEvent)

    /// Records `event` and says whether it is on stable storage: the coordinator publishes a round's end this way
    /// before telling its clients, and publishes it again after a restart if this threw. The default calls
    /// ``observe(_:)`` (an observer that keeps nothing durable cannot fail).
    ///
    /// - Throws: whatever kept the record from being stored.
    func observeDurably(_ event: CoordinatorEvent) throws
}

extension CoordinatorObserver {
    public func observeDurably(_ event: CoordinatorEvent) throws {
        observe(event)
    }
}

/// Fans an event out to several observers, in order.
struct ObserverList: Sendable {
    let observers: [any CoordinatorObserver]

    /// The audit log among the observers, if one is configured.
    var auditLog: AuditLog? { observers.lazy.compactMap { $0 as? AuditLog }.first }

    /// Emits to every observer, then throws the first failure of a durable one (every observer still hears it).
    func emitDurably(_ event: CoordinatorEvent) throws {
        var failure: (any Error)?
        for observer in observers {
            do {
                try observer.observeDurably(event)
            } catch {
                if failure == nil { failure = error }
            }
        }
        if let failure { throw failure }
    }

    func emit(_ event: CoordinatorEvent) {
        for observer in observers { observer.observe(event) }
    }
}
