import CSecAgg
import SecAggCrypto
import SecAggProtocol
import SecAggWire

/// The object behind a `secagg_client` handle: a ``ClientSession`` (the join, when a task is given, then the
/// round) with a queue of encoded outgoing messages. Not synchronised (the header says so).
final class SansIOClientHandle {
    private var session: ClientSession
    private var random = SystemRandom()
    private(set) var outgoing: [[UInt8]] = []

    init(configuration: ClientConfiguration, input: [UInt64], task: String?) {
        session = ClientSession(configuration: configuration, input: input, task: task)
        queue(session.start())
    }

    /// The receipt once the client has finished.
    var receipt: CReceipt? { session.receipt.map(CReceipt.init) }

    var phase: RoundPhase? { session.phase }

    /// Handles one coordinator message; on a violation the client leaves the round (queueing the abort message).
    func handle(_ bytes: [UInt8]) throws(CFailure) {
        guard session.end == nil else { throw CFailure(SECAGG_E_STATE, "the client has finished") }
        queue(session.handle(bytes, using: &random))
        switch session.end {
        case let .refused(refusal, reason)?:
            throw CFailure(CFailure.code(of: refusal), "refused by the coordinator (\(refusal)): \(reason)")
        case let .coordinatorViolation(violation)?:
            throw CFailure(SECAGG_E_PROTOCOL, violation)
        case .dropped?:
            throw droppedFailure ?? CFailure(SECAGG_E_INTERNAL, "dropped")
        case .receipt?, nil:
            return
        }
    }

    /// After a drop notice: the failure secagg_client_handle and secagg_client_receipt report.
    var droppedFailure: CFailure? {
        guard case let .dropped(phase, cause, reason)? = session.end else { return nil }
        let counted = session.inputSent ? "the masked input was sent, so the round may still count it" : "the input is in no released sum"
        return CFailure(SECAGG_E_DROPPED, "dropped in the \(phase) phase (\(reason.isEmpty ? "\(cause)" : reason)); \(counted)")
    }

    /// Leaves the round on the caller's initiative.
    func abort(code: UInt16, reason: String) throws(CFailure) {
        guard session.end == nil else { throw CFailure(SECAGG_E_STATE, "the client has finished") }
        guard let abortCode = AbortCode(rawValue: code) else {
            throw .invalidArgument("abort_code 0x\(String(code, radix: 16)) is not a spec'd abort code")
        }
        queue(session.abort(abortCode, detail: reason))
    }

    /// Removes and returns the next outgoing message.
    func popOutgoing() -> [UInt8]? {
        outgoing.isEmpty ? nil : outgoing.removeFirst()
    }

    private func queue(_ actions: [ClientSession.Action]) {
        for case let .send(bytes) in actions { outgoing.append(bytes) }
    }
}

/// `secagg_client_create`: a sans-IO client for one round.
@_cdecl("secagg_client_create")
public func secaggClientCreate(
    _ clientOut: UnsafeMutablePointer<OpaquePointer?>?, _ identity: OpaquePointer?,
    _ input: UnsafePointer<UInt64>?, _ inputLength: Int, _ policy: UnsafePointer<secagg_client_policy>?,
    _ task: UnsafePointer<CChar>?
) -> Int32 {
    cCall {
        let out = try required(clientOut, "client_out")
        let identity = try Handle.object(identity, as: IdentityHandle.self, "identity")
        let input = try copyArray(input, count: inputLength, "input")
        let policy = try ClientPolicy(policy)
        let task = try task.map { pointer throws(CFailure) in try requiredString(pointer, "task") }
        Handle.store(
            SansIOClientHandle(
                configuration: ClientConfiguration(identity: identity.key, policy: policy), input: input, task: task),
            in: out)
    }
}

/// `secagg_client_handle`: feeds one coordinator message.
@_cdecl("secagg_client_handle")
public func secaggClientHandle(_ client: OpaquePointer?, _ message: UnsafePointer<UInt8>?, _ messageLength: Int) -> Int32 {
    cCall {
        let client = try Handle.object(client, as: SansIOClientHandle.self, "client")
        try client.handle(try copyArray(message, count: messageLength, "message"))
    }
}

/// `secagg_client_next_message_size`: the size of the next queued outgoing message (0 if none).
@_cdecl("secagg_client_next_message_size")
public func secaggClientNextMessageSize(_ sizeOut: UnsafeMutablePointer<Int>?, _ client: OpaquePointer?) -> Int32 {
    cCall {
        let out = try required(sizeOut, "size_out")
        out.pointee = try Handle.object(client, as: SansIOClientHandle.self, "client").outgoing.first?.count ?? 0
    }
}

/// `secagg_client_next_message`: moves the next queued outgoing message into the caller's buffer.
@_cdecl("secagg_client_next_message")
public func secaggClientNextMessage(
    _ out: UnsafeMutablePointer<UInt8>?, _ outCapacity: Int, _ outLength: UnsafeMutablePointer<Int>?,
    _ client: OpaquePointer?
) -> Int32 {
    cCall {
        let length = try required(outLength, "out_len")
        let client = try Handle.object(client, as: SansIOClientHandle.self, "client")
        guard let next = client.outgoing.first else {
            length.pointee = 0
            return
        }
        let destination = try required(out, "out")
        guard outCapacity >= next.count else {
            length.pointee = next.count
            throw CFailure(SECAGG_E_BUFFER_TOO_SMALL, "out needs \(next.count) bytes")
        }
        destination.update(from: next, count: next.count)
        length.pointee = next.count
        _ = client.popOutgoing()
    }
}

/// `secagg_client_phase`: the current phase, or `SECAGG_PHASE_NONE`.
@_cdecl("secagg_client_phase")
public func secaggClientPhase(_ phaseOut: UnsafeMutablePointer<Int32>?, _ client: OpaquePointer?) -> Int32 {
    cCall {
        let out = try required(phaseOut, "phase_out")
        let client = try Handle.object(client, as: SansIOClientHandle.self, "client")
        out.pointee = client.phase.map { Int32($0.rawValue) } ?? SECAGG_PHASE_NONE
    }
}

/// `secagg_client_abort`: leaves the round with an abort code and reason.
@_cdecl("secagg_client_abort")
public func secaggClientAbort(_ client: OpaquePointer?, _ abortCode: UInt16, _ reason: UnsafePointer<CChar>?) -> Int32 {
    cCall {
        let client = try Handle.object(client, as: SansIOClientHandle.self, "client")
        let reason = try reason.map { pointer throws(CFailure) in try requiredString(pointer, "reason") } ?? ""
        try client.abort(code: abortCode, reason: reason)
    }
}

/// `secagg_client_receipt`: the receipt once the client has finished.
@_cdecl("secagg_client_receipt")
public func secaggClientReceipt(_ receiptOut: UnsafeMutablePointer<secagg_receipt>?, _ client: OpaquePointer?) -> Int32 {
    cCall {
        let out = try required(receiptOut, "receipt_out")
        let client = try Handle.object(client, as: SansIOClientHandle.self, "client")
        guard let receipt = client.receipt else {
            let failure = client.droppedFailure ?? CFailure(SECAGG_E_STATE, "the round is still running")
            CReceipt(failure: failure).write(to: out)
            throw failure
        }
        receipt.write(to: out)
    }
}

/// `secagg_client_free`: releases a client.
@_cdecl("secagg_client_free")
public func secaggClientFree(_ client: OpaquePointer?) {
    Handle.release(client, as: SansIOClientHandle.self)
}
