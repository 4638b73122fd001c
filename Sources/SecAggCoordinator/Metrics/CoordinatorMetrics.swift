import Metrics
import SecAggPrivacy
import SecAggProtocol

/// Turns coordinator events into swift-metrics counters, gauges and timers (README "Metrics" lists them).
///
/// The library only uses the swift-metrics API; `secaggd` bootstraps the Prometheus backend. Labels are bounded:
/// task names come from the operator's configuration, phases and abort codes from the spec, and authentication
/// failures are mapped to ``AuthenticationFailureCategory`` — no label ever holds text a peer chose.
public struct CoordinatorMetrics: CoordinatorObserver {
    private let factory: any MetricsFactory

    /// - Parameter factory: The backend (default: the one bootstrapped in `MetricsSystem`).
    public init(factory: any MetricsFactory = MetricsSystem.factory) {
        self.factory = factory
    }

    public func observe(_ event: CoordinatorEvent) {
        switch event {
        case let .roundStarting(task, _, parameters, _):
            counter("secagg_rounds_started_total", ["task": task]).increment()
            gauge("secagg_round_invited_clients", ["task": task]).record(Int(parameters.invitedCount))
        case let .phaseStarted(task, _, phase, participants):
            gauge("secagg_phase_clients", ["task": task, "phase": "\(phase)"]).record(participants)
        case let .participantDropped(task, _, _, phase, reason):
            counter("secagg_dropouts_total", ["task": task, "phase": "\(phase)", "cause": reason.kind]).increment()
        case let .privacyCharged(task, _, _, ledger), let .privacySettled(task, _, ledger), let .ledgerLoaded(task, ledger),
             let .budgetChanged(task, ledger, _):
            updateBudget(task: task, ledger: ledger)
        case let .budgetRefused(task, _, _):
            counter("secagg_budget_refusals_total", ["task": task]).increment()
        case let .roundFinished(record):
            roundFinished(record)
        case let .authenticationFailed(_, reason):
            counter("secagg_authentication_failures_total", ["reason": AuthenticationFailureCategory(reason: reason).rawValue])
                .increment()
        case let .connectionsChanged(open):
            gauge("secagg_open_connections", [:]).record(open)
        case let .connectionRefused(_, reason):
            counter("secagg_connections_refused_total", ["reason": reason.rawValue]).increment()
        case let .joinRefused(task, _, reason):
            // The task name of a refused join may be anything a client sent: only a task that exists is a label.
            switch reason {
            case "unknown task":
                counter("secagg_join_refusals_total", ["task": "unknown", "reason": "unknown_task"]).increment()
            case "already joined":
                counter("secagg_join_refusals_total", ["task": task, "reason": "already_joined"]).increment()
            case "queue full":
                counter("secagg_join_refusals_total", ["task": task, "reason": "queue_full"]).increment()
            case "already connected":
                counter("secagg_join_refusals_total", ["task": "unknown", "reason": "already_connected"]).increment()
            default:
                counter("secagg_join_refusals_total", ["task": "unknown", "reason": "other"]).increment()
            }
        case .clientEnrolled:
            counter("secagg_admin_operations_total", ["operation": "enroll"]).increment()
        case .clientRevoked:
            counter("secagg_admin_operations_total", ["operation": "revoke"]).increment()
        case .taskChanged:
            counter("secagg_admin_operations_total", ["operation": "task_change"]).increment()
        case .roundRequested:
            counter("secagg_admin_operations_total", ["operation": "round_request"]).increment()
        }
    }

    /// Sets the budget gauges of a task (from every ledger event, ``CoordinatorEvent/ledgerLoaded(task:ledger:)``
    /// at start included).
    private func updateBudget(task: String, ledger: PrivacyBudget) {
        gauge("secagg_privacy_budget_remaining_epsilon", ["task": task])
            .record(max(0, ledger.epsilonLimit - ledger.epsilonSpent))
        gauge("secagg_privacy_budget_spent_epsilon", ["task": task]).record(ledger.epsilonSpent)
        gauge("secagg_privacy_budget_remaining_rho", ["task": task]).record(ledger.rhoRemaining)
    }

    private func roundFinished(_ record: RoundRecord) {
        let task = record.task
        let code = record.abortReason.map { $0.code.name } ?? "none"
        let outcome = record.abortReason == nil ? "completed" : "aborted"
        counter("secagg_rounds_total", ["task": task, "outcome": outcome, "code": code]).increment()
        timer("secagg_round_duration_seconds", ["task": task]).recordNanoseconds(nanoseconds(record.wallSeconds))
        for (phase, seconds) in record.phaseSeconds {
            timer("secagg_phase_duration_seconds", ["task": task, "phase": "\(phase)"])
                .recordNanoseconds(nanoseconds(seconds))
        }
        counter("secagg_received_bytes_total", ["task": task]).increment(by: record.bytesReceived)
        counter("secagg_sent_bytes_total", ["task": task]).increment(by: record.bytesSent)
        if record.sum != nil {
            gauge("secagg_round_survivors", ["task": task]).record(record.survivors.count)
        }
    }

    private func nanoseconds(_ seconds: Double) -> Int64 {
        seconds.isFinite && seconds > 0 ? Int64(min(seconds, 1e9) * 1e9) : 0
    }

    private func dimensions(_ labels: [String: String]) -> [(String, String)] {
        labels.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
    }

    private func counter(_ label: String, _ labels: [String: String]) -> Counter {
        Counter(label: label, dimensions: dimensions(labels), factory: factory)
    }

    private func gauge(_ label: String, _ labels: [String: String]) -> Gauge {
        Gauge(label: label, dimensions: dimensions(labels), factory: factory)
    }

    private func timer(_ label: String, _ labels: [String: String]) -> Metrics.Timer {
        Metrics.Timer(label: label, dimensions: dimensions(labels), factory: factory)
    }
}
