import CSecAgg
import Dispatch
import Logging
import SecAggClient
import SecAggProtocol
import SecAggCrypto
import SecAggTransport
import NIOConcurrencyHelpers

/// `secagg_participate_options`, with zero meaning the default.
struct ParticipateOptions: Sendable {
    var connectAttempts = 5
    var handshakeTimeout: Duration = .seconds(10)
    var admissionTimeout: Duration = .seconds(600)
    var idleTimeout: Duration = .seconds(300)
    var totalTimeout: Duration?

    init(_ pointer: UnsafePointer<secagg_participate_options>?) {
        guard let options = pointer?.pointee else { return }
        if options.connect_attempts > 0 { connectAttempts = Int(options.connect_attempts) }
        if options.handshake_timeout_ms > 0 { handshakeTimeout = .milliseconds(options.handshake_timeout_ms) }
        if options.admission_timeout_ms > 0 { admissionTimeout = .milliseconds(options.admission_timeout_ms) }
        if options.idle_timeout_ms > 0 { idleTimeout = .milliseconds(options.idle_timeout_ms) }
        if options.total_timeout_ms > 0 { totalTimeout = .milliseconds(options.total_timeout_ms) }
    }
}

/// `secagg_participate_options_default`: all fields zero, meaning the defaults.
@_cdecl("secagg_participate_options_default")
public func secaggParticipateOptionsDefault(_ optionsOut: UnsafeMutablePointer<secagg_participate_options>?) -> Int32 {
    cCall {
        try required(optionsOut, "options_out").pointee = secagg_participate_options()
    }
}

/// `secagg_participate`: one round over TCP + Noise, blocking the calling thread.
@_cdecl("secagg_participate")
public func secaggParticipate(
    _ receiptOut: UnsafeMutablePointer<secagg_receipt>?,
    _ identity: OpaquePointer?,
    _ host: UnsafePointer<CChar>?, _ port: UInt16,
    _ coordinatorKey: UnsafePointer<UInt8>?, _ coordinatorKeyLength: Int,
    _ task: UnsafePointer<CChar>?,
    _ input: UnsafePointer<UInt64>?, _ inputLength: Int,
    _ policy: UnsafePointer<secagg_client_policy>?,
    _ options: UnsafePointer<secagg_participate_options>?,
    _ cancel: OpaquePointer?
) -> Int32 {
    let receipt: CReceipt
    let code: Int32
    do {
        let identity = try Handle.object(identity, as: IdentityHandle.self, "identity")
        let host = try requiredString(host, "host")
        guard port > 0 else { throw CFailure.invalidArgument("port must not be 0") }
        let coordinatorKey = try publicKey(coordinatorKey, count: coordinatorKeyLength, "coordinator_public_key")
        let task = try requiredString(task, "task")
        let input = try copyArray(input, count: inputLength, "input")
        let policy = try ClientPolicy(policy)
        let options = ParticipateOptions(options)
        let cancelHandle = cancel == nil ? nil : try Handle.object(cancel, as: CancelHandle.self, "cancel")
        let client = SecAggClient(
            configuration: SecAggClientConfiguration(
                host: host, port: Int(port), coordinatorKey: coordinatorKey, identity: identity.key, task: task,
                policy: policy,
                limits: TransportLimits(handshakeTimeout: options.handshakeTimeout, idleTimeout: options.idleTimeout),
                connectAttempts: options.connectAttempts, admissionTimeout: options.admissionTimeout),
            logger: Logger(label: "secagg.c", factory: { _ in SwiftLogNoOpLogHandler() }))
        receipt = CReceipt(try blocking(cancel: cancelHandle) {
            try await withTotalTimeout(options.totalTimeout) { try await client.participate(input: input) }
        })
        code = SECAGG_OK
    } catch {
        let failure = CFailure(classifying: error)
        receipt = CReceipt(failure: failure)
        code = failure.code
    }
    if let receiptOut { receipt.write(to: receiptOut) }
    return code
}

/// Thrown when the call's total timeout expires.
private struct TotalTimeoutExpired: Error {}

/// Runs `operation`, failing with a timeout if it takes longer than `limit` (if any).
private func withTotalTimeout<Value: Sendable>(
    _ limit: Duration?, _ operation: @escaping @Sendable () async throws -> Value
) async throws -> Value {
    guard let limit else { return try await operation() }
    return try await withThrowingTaskGroup(of: Value?.self) { group in
        group.addTask { try await operation() }
        group.addTask {
            try await Task.sleep(for: limit)
            return nil
        }
        defer { group.cancelAll() }
        guard let first = try await group.next(), let value = first else {
            throw CFailure(SECAGG_E_TIMEOUT, "the total timeout of \(limit) expired")
        }
        return value
    }
}

/// Runs async work to completion on the concurrency pool while the calling (foreign) thread waits; `cancel`
/// cancels the work. The result is the work's value or its error, reported as cancelled if `cancel` fired.
private func blocking<Value: Sendable>(
    cancel: CancelHandle?, _ operation: @escaping @Sendable () async throws -> Value
) throws -> Value {
    let outcome = NIOLockedValueBox<Result<Value, any Error>?>(nil)
    let done = DispatchSemaphore(value: 0)
    let task = Task {
        let result: Result<Value, any Error>
        do {
            result = .success(try await operation())
        } catch {
            result = .failure(error)
        }
        outcome.withLockedValue { $0 = result }
        done.signal()
    }
    let token = cancel?.register(task)
    done.wait()
    if let token { cancel?.unregister(token) }
    let result = outcome.withLockedValue { $0 } ?? .failure(CFailure(SECAGG_E_INTERNAL, "the operation ended without a result"))
    if case .failure = result, cancel?.isTriggered == true {
        throw CFailure(SECAGG_E_CANCELLED, "cancelled")
    }
    return try result.get()
}
