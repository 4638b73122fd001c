/// Messages that open a session on a new connection, before any round (SPEC §4.9).
///
/// A client's first application message is a ``JoinRequest`` naming the task it contributes to; the coordinator
/// answers with a ``JoinResponse``. If accepted, the client waits, connected, until the coordinator invites it to a
/// round with an ``AdvertiseKeysRequest``. Envelope type codes: 0x40 (JoinRequest) and 0x07 (JoinResponse).

/// A client asking to take part in the next round of a task. Type 0x40.
public struct JoinRequest: Sendable, Hashable {
    public var taskName: String

    public init(taskName: String) {
        self.taskName = taskName
    }
}

/// The coordinator's answer to a ``JoinRequest``. Type 0x07.
public struct JoinResponse: Sendable, Hashable {
    /// Why a join was refused.
    public enum Refusal: UInt16, Sendable, Hashable, CaseIterable {
        /// The coordinator has no task of that name.
        case unknownTask = 0x0301
        /// This identity is already connected (or queued) for the task.
        case alreadyJoined = 0x0302
        /// The task's waiting queue is full.
        case queueFull = 0x0303
        /// The coordinator is shutting down (or the task runs no more rounds).
        case shuttingDown = 0x0304
        /// The client's identity is not enrolled. Sent unasked, right after the handshake (SPEC §4.9).
        case notEnrolled = 0x0305
        /// The client's identity was enrolled and has been revoked. Sent unasked, right after the handshake.
        case revoked = 0x0306
        /// The coordinator requires endorsements by an enrollment authority and has none for this identity. Sent
        /// unasked, right after the handshake.
        case notEndorsed = 0x0307
    }

    public enum Result: Sendable, Hashable {
        /// Accepted: wait for an invitation to a round.
        case accepted
        case refused(Refusal, reason: String)
    }

    public var result: Result

    public init(result: Result) {
        self.result = result
    }
}

extension JoinRequest: WireEncodable, WireDecodable {
    public static let typeCode: UInt8 = 0x40

    /// The largest encoded JoinRequest (a 255-byte task name): what a coordinator accepts as the first message of a
    /// connection, before it knows which task, and so which message sizes, the client is for (SPEC §2.6.5).
    public static let maximumEncodedBytes = 2 + 1 + 1 + WireLimits.maximumTaskNameBytes

    public func encode(into writer: inout WireWriter) {
        writer.write(WireLimits.protocolVersion)
        writer.write(Self.typeCode)
        writer.writeOpaque(Array(taskName.utf8), prefixBytes: 1)
    }

    public init(from reader: inout WireReader) throws(WireError) {
        try reader.readEnvelope(type: Self.typeCode)
        let name = try reader.readOpaque(prefixBytes: 1, maximum: WireLimits.maximumTaskNameBytes, field: "taskName")
        guard !name.isEmpty, let decoded = String(validating: name, as: UTF8.self) else {
            throw .invalidValue(field: "taskName", reason: "must be 1...255 bytes of UTF-8")
        }
        taskName = decoded
    }
}

extension JoinResponse: WireEncodable, WireDecodable {
    public static let typeCode: UInt8 = 0x07

    public func encode(into writer: inout WireWriter) {
        writer.write(WireLimits.protocolVersion)
        writer.write(Self.typeCode)
        switch result {
        case .accepted:
            writer.write(UInt16(0))
            writer.writeOpaque([UInt8](), prefixBytes: 2)
        case let .refused(refusal, reason):
            writer.write(refusal.rawValue)
            writer.writeOpaque(truncatedReason(reason), prefixBytes: 2)
        }
    }

    public init(from reader: inout WireReader) throws(WireError) {
        try reader.readEnvelope(type: Self.typeCode)
        let code = try reader.readUInt16()
        let reasonBytes = try reader.readOpaque(prefixBytes: 2, maximum: WireLimits.maximumReasonBytes, field: "reason")
        guard let reason = String(validating: reasonBytes, as: UTF8.self) else {
            throw .invalidValue(field: "reason", reason: "not UTF-8")
        }
        if code == 0 {
            guard reason.isEmpty else { throw .invalidValue(field: "reason", reason: "must be empty when accepted") }
            result = .accepted
        } else if let refusal = Refusal(rawValue: code) {
            result = .refused(refusal, reason: reason)
        } else {
            throw .invalidValue(field: "code", reason: "unknown join code \(code)")
        }
    }
}
