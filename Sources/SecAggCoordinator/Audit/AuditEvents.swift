import SecAggCrypto
import SecAggPrivacy
import SecAggProtocol
import SecAggWire

extension AuditLog {
    /// The record kind and fields of an event (`protocol/AUDIT.md` lists them). Free text (reasons, labels, task
    /// names a peer sent) is cut to 512 characters; JSON escaping keeps it from forging records.
    public static func fields(of event: CoordinatorEvent) -> (kind: String, fields: [String: AuditValue]) {
        switch event {
        case let .roundStarting(task, roundID, parameters, identities):
            var fields = round(task, roundID)
            fields["invited"] = .integer(Int64(parameters.invitedCount))
            fields["threshold"] = .integer(Int64(parameters.threshold))
            fields["minimum_survivors"] = .integer(Int64(parameters.minimumSurvivors))
            fields["dimension"] = .integer(Int64(parameters.dimension))
            fields["bits"] = .integer(Int64(parameters.bits))
            fields["maximum_input"] = .string(String(parameters.maximumInput))
            fields["mode"] = .string(parameters.mode == .active ? "active" : "honest")
            switch parameters.graph {
            case .complete: fields["graph"] = "complete"
            case let .harary(degree): fields["graph"] = .string("harary(\(degree))")
            }
            fields.merge(noiseFields(parameters.noise)) { $1 }
            fields["participants"] = .array(identities.map { .string($0) })
            return ("round_starting", fields)
        case let .phaseStarted(task, roundID, phase, participants):
            var fields = round(task, roundID)
            fields["phase"] = .string("\(phase)")
            fields["participants"] = .integer(Int64(participants))
            return ("phase_started", fields)
        case let .participantDropped(task, roundID, identity, phase, reason):
            var fields = round(task, roundID)
            fields["identity"] = .string(identity)
            fields["phase"] = .string("\(phase)")
            fields["cause"] = .string(reason.kind)
            fields["reason"] = text("\(reason)")
            return ("participant_dropped", fields)
        case let .privacyCharged(task, roundID, entry, ledger):
            var fields = round(task, roundID).merging(ledgerFields(ledger)) { $1 }
            fields["placement"] = .string(entry.placement.rawValue)
            fields["rho"] = real(entry.rho)
            if entry.penalty != 0 { fields["penalty"] = real(entry.penalty) }
            fields["epsilon"] = real(entry.epsilon)
            fields["delta"] = real(entry.delta)
            fields["sigma"] = real(entry.sigma)
            if let local = entry.localSigma { fields["local_sigma"] = real(local) }
            fields["minimum_survivors"] = .integer(Int64(entry.minimumSurvivors))
            fields["clip"] = real(entry.clip)
            return ("privacy_charged", fields)
        case let .budgetRefused(task, roundID, reason):
            var fields = round(task, roundID)
            fields["reason"] = text(reason)
            return ("budget_refused", fields)
        case let .budgetChanged(task, ledger, actor):
            var fields = ledgerFields(ledger)
            fields["task"] = text(task)
            fields["actor"] = text(actor)
            return ("budget_changed", fields)
        case let .ledgerLoaded(task, ledger):
            var fields = ledgerFields(ledger)
            fields["task"] = text(task)
            return ("ledger_loaded", fields)
        case let .privacySettled(task, roundID, ledger):
            var fields = round(task, roundID).merging(ledgerFields(ledger)) { $1 }
            if let entry = ledger.entry(roundID: "\(roundID)") {
                fields["status"] = .string(entry.status.rawValue)
                if let survivors = entry.survivors { fields["survivors"] = .integer(Int64(survivors)) }
            }
            return ("privacy_settled", fields)
        case let .roundFinished(record):
            return ("round_finished", finishedFields(record))
        case let .authenticationFailed(remote, reason):
            return ("authentication_failed", [
                "remote": text(remote), "category": .string(AuthenticationFailureCategory(reason: reason).rawValue),
                "reason": text(reason),
            ])
        case let .connectionsChanged(open):
            // Never recorded (``observe(_:)`` skips it); described for completeness.
            return ("connections", ["open": .integer(Int64(open))])
        case let .connectionRefused(remote, reason):
            return ("connection_refused", ["remote": text(remote), "reason": .string(reason.rawValue)])
        case let .joinRefused(task, identity, reason):
            return ("join_refused", ["task": text(task), "identity": .string(identity), "reason": text(reason)])
        case let .clientEnrolled(identity, label, actor):
            return ("client_enrolled", ["identity": .string(identity), "label": text(label), "actor": text(actor)])
        case let .clientRevoked(identity, actor):
            return ("client_revoked", ["identity": .string(identity), "actor": text(actor)])
        case let .taskChanged(task, summary, actor):
            return ("task_changed", ["task": text(task), "summary": text(summary), "actor": text(actor)])
        case let .roundRequested(task, actor):
            return ("round_requested", ["task": text(task), "actor": text(actor)])
        }
    }

    /// Hex BLAKE2b-256 of a released sum: the label `secagg audit sum v1\n`, then each entry as 8 bytes
    /// little-endian. Lets an auditor match a result file or store row to the release without logging the sum.
    public static func sumHash(_ sum: [UInt64]) -> String {
        AuditChain.hex(sumDigest(sum))
    }

    /// The 32 bytes whose hex is ``sumHash(_:)`` (an outcome receipt carries them, SPEC §4.10).
    public static func sumDigest(_ sum: [UInt64]) -> [UInt8] {
        var hasher = Blake2b.Hasher()
        hasher.update(Array("secagg audit sum v1\n".utf8))
        var bytes: [UInt8] = []
        bytes.reserveCapacity(sum.count * 8)
        for value in sum {
            withUnsafeBytes(of: value.littleEndian) { bytes += $0 }
        }
        hasher.update(bytes)
        return hasher.finalize()
    }

    private static func finishedFields(_ record: RoundRecord) -> [String: AuditValue] {
        var fields = round(record.task, record.roundID)
        fields["survivors"] = .integer(Int64(record.survivors.count))
        fields["survivor_identities"] = .array(record.survivorIdentities.map { .string($0) })
        fields["wall_seconds"] = real(record.wallSeconds)
        fields["bytes_sent"] = .integer(Int64(record.bytesSent))
        fields["bytes_received"] = .integer(Int64(record.bytesReceived))
        if record.recovered { fields["recovered"] = true }
        fields["dropped"] = .object(Dictionary(uniqueKeysWithValues: record.droppedPerPhase.map {
            ("\($0.key)", .integer(Int64($0.value)))
        }))
        if let reason = record.abortReason {
            fields["outcome"] = "aborted"
            fields["abort_code"] = .string("\(reason.code)")
            fields["abort_reason"] = text(reason.detail)
            if let phase = record.abortPhase { fields["abort_phase"] = .string("\(phase)") }
        } else {
            fields["outcome"] = "released"
        }
        if let sum = record.sum {
            fields["sum_blake2b"] = .string(sumHash(sum))
            fields["sum_entries"] = .integer(Int64(sum.count))
        }
        fields.merge(noiseFields(record.parameters.noise)) { $1 }
        return fields
    }

    /// Who adds noise and its exact variance (a fraction, as on the wire).
    private static func noiseFields(_ noise: NoiseParameters) -> [String: AuditValue] {
        switch noise {
        case .none: return ["noise": "none"]
        case let .distributed(variance):
            return ["noise": "distributed", "noise_local_variance": .string("\(variance.numerator)/\(variance.denominator)")]
        case let .central(variance):
            return ["noise": "central", "noise_variance": .string("\(variance.numerator)/\(variance.denominator)")]
        }
    }

    private static func round(_ task: String, _ roundID: RoundID) -> [String: AuditValue] {
        ["task": text(task), "round": .string("\(roundID)")]
    }

    private static func ledgerFields(_ ledger: PrivacyBudget) -> [String: AuditValue] {
        [
            "budget_epsilon": real(ledger.epsilonLimit), "budget_delta": real(ledger.delta),
            "spent_epsilon": real(ledger.epsilonSpent), "spent_rho": real(ledger.rhoSpent),
            "remaining_rho": real(ledger.rhoRemaining), "ledger_blake2b": .string(AuditIndex.ledgerDigest(ledger)),
        ].merging(ledger.penaltySpent == 0 ? [:] : ["spent_penalty": real(ledger.penaltySpent)]) { first, _ in first }
    }

    /// A real number as its shortest round-tripping decimal text (the log has no floating-point values).
    private static func real(_ value: Double) -> AuditValue { .string("\(value)") }

    private static func text(_ value: String) -> AuditValue {
        let limit = 512
        return .string(value.count > limit ? String(value.prefix(limit)) + "…" : value)
    }
}

/// A bounded classification of authentication failures, for metrics labels and audit records: never the peer's
/// own text, which could make the label set unbounded.
public enum AuthenticationFailureCategory: String, Sendable, CaseIterable {
    /// The Noise handshake failed (bad message, wrong prologue, failed decryption of a handshake message).
    case handshakeFailed = "handshake_failed"
    /// The handshake did not finish in time.
    case handshakeTimeout = "handshake_timeout"
    /// The peer authenticated with a key that is not enrolled (or revoked).
    case notEnrolled = "not_enrolled"
    /// The handshake payload was malformed.
    case malformedPayload = "malformed_payload"
    case other

    /// Classifies the reason the coordinator reports in ``CoordinatorEvent/authenticationFailed(remote:reason:)``
    /// (the description of the transport error).
    public init(reason: String) {
        if reason.hasPrefix("Noise handshake timed out") {
            self = .handshakeTimeout
        } else if reason.hasPrefix("Noise handshake failed") {
            self = .handshakeFailed
        } else if reason.hasPrefix("peer rejected") {
            self = .notEnrolled
        } else if reason.hasPrefix("malformed handshake payload") {
            self = .malformedPayload
        } else {
            self = .other
        }
    }
}
