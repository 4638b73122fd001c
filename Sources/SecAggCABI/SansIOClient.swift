import CSecAgg
import SecAggCrypto
import SecAggProtocol
import SecAggWire

/// The object behind a `secagg_client` handle: the client state machine, preceded by the session layer's join
/// when a task is given, with a queue of encoded outgoing messages. Not synchronised (the header says so).
final class SansIOClientHandle {
    private var machine: ClientStateMachine
    private var random = SystemRandom()
    /// True until the join answer arrives (only when the client sends the join itself).
    private var awaitingJoinAnswer: Bool
    /// Set when the client finished outside the state machine (a refused join).
    private var refusal: CReceipt?
    private(set) var outgoing: [[UInt8]] = []

    init(configuration: ClientConfiguration, input: [UInt64], task: String?) {
        machine = ClientStateMachine(configuration: configuration, input: input)
        awaitingJoinAnswer = task != nil
        if let task { outgoing.append(JoinRequest(taskName: task).encoded) }
    }

    /// The receipt once the client has finished.
    var receipt: CReceipt? {
        refusal ?? machine.receipt.map(CReceipt.init)
    }

    var phase: RoundPhase? { machine.phase }

    /// Handles one coordinator message; on a violation the client leaves the round (queueing the abort message).
    func handle(_ bytes: [UInt8]) throws(CFailure) {
        guard receipt == nil else { throw CFailure(SECAGG_E_STATE, "the client has finished") }
        if awaitingJoinAnswer {
            try handleJoinAnswer(bytes)
            return
        }
        let violation: String
        do {
            let message = try CoordinatorMessage(decoding: bytes)
            do throws(ClientError) {
                for case let .send(reply) in try machine.handle(message, using: &random) {
                    outgoing.append(reply.encoded)
                }
                return
            } catch {
                violation = "\(error)"
            }
        } catch {
            violation = "\(ProtocolViolation.malformed(error))"
        }
        if let abort = machine.abort(.coordinatorMisbehaved, detail: violation) { outgoing.append(abort.encoded) }
        throw CFailure(SECAGG_E_PROTOCOL, violation)
    }

    private func handleJoinAnswer(_ bytes: [UInt8]) throws(CFailure) {
        let answer: JoinResponse
        do {
            answer = try JoinResponse(decoding: bytes)
        } catch {
            let violation = "\(ProtocolViolation.malformed(error))"
            _ = machine.abort(.coordinatorMisbehaved, detail: violation)
            throw CFailure(SECAGG_E_PROTOCOL, violation)
        }
        switch answer.result {
        case .accepted:
            awaitingJoinAnswer = false
        case let .refused(reason, detail):
            refusal = CReceipt(roundID: nil, participant: nil, outcome: .aborted(code: reason.rawValue, reason: detail))
            throw CFailure(SECAGG_E_JOIN_REFUSED, "join refused (\(reason)): \(detail)")
        }
    }

    /// Leaves the round on the caller's initiative.
    func abort(code: UInt16, reason: String) throws(CFailure) {
        guard receipt == nil else { throw CFailure(SECAGG_E_STATE, "the client has finished") }
        guard let abortCode = AbortCode(rawValue: code) else {
            throw .invalidArgument("abort_code 0x\(String(code, radix: 16)) is not a spec'd abort code")
        }
        if let message = machine.abort(abortCode, detail: reason) { outgoing.append(message.encoded) }
    }

    /// Removes and returns the next outgoing message.
    func popOutgoing() -> [UInt8]? {
        outgoing.isEmpty ? nil : outgoing.removeFirst()
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
        let policy = try Policy(policy)
        let task = try task.map { pointer throws(CFailure) in try requiredString(pointer, "task") }
        Handle.store(
            SansIOClientHandle(configuration: policy.clientConfiguration(identity: identity.key), input: input, task: task),
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
            CReceipt(roundID: nil, participant: nil, outcome: nil).write(to: out)
            throw CFailure(SECAGG_E_STATE, "the round is still running")
        }
        receipt.write(to: out)
    }
}

/// `secagg_client_free`: releases a client.
@_cdecl("secagg_client_free")
public func secaggClientFree(_ client: OpaquePointer?) {
    Handle.release(client, as: SansIOClientHandle.self)
}
