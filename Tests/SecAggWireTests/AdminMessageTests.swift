import SecAggWire
import Testing

/// The admin channel's requests and responses (protocol/ADMIN.md): every request round-trips, the encoding is
/// the documented one, and malformed input is rejected with a typed error.
@Suite("Admin messages")
struct AdminMessageTests {
    static let roundID = RoundID(bytes: Array(0..<16))!
    static let key = [UInt8](repeating: 0xAB, count: 32)

    static let requests: [AdminRequest] = [
        .enroll(publicKey: key, label: "client 7"), .enroll(publicKey: key, label: "c", endorsement: [UInt8](repeating: 7, count: 64)),
        .revoke(publicKey: key), .listClients,
        .createTask(definition: "name: t\ndimension: 4\n"), .listTasks, .showTask(name: "t"), .startRound(task: "t"),
        .watchRound(task: "t"), .listRounds(task: "", limit: 20), .listRounds(task: "t", limit: 1),
        .showResult(roundID: roundID), .showBudget(task: "t"), .pauseTask(task: "t"), .resumeTask(task: "t"),
        .retireTask(task: "t"), .updateTask(definition: "name: t\ndimension: 8\n"),
    ]

    @Test("every request round-trips", arguments: requests)
    func requestRoundTrip(_ request: AdminRequest) throws {
        #expect(try AdminRequest(decoding: request.encoded) == request)
    }

    @Test("every response status round-trips", arguments: [
        AdminResponse.Status.ok, .failed, .notFound, .invalid,
    ])
    func responseRoundTrip(_ status: AdminResponse.Status) throws {
        let response = AdminResponse(status: status, body: #"{"a":[1,2]} é"#)
        #expect(try AdminResponse(decoding: response.encoded) == response)
    }

    @Test("known encodings: envelope, fixed key, 8-bit and 16-bit prefixes, 32-bit body length")
    func knownEncodings() {
        #expect(AdminRequest.listClients.encoded == [0x00, 0x02, 0x03])
        #expect(AdminRequest.startRound(task: "ab").encoded == [0x00, 0x02, 0x07, 0x02, 0x61, 0x62])
        #expect(AdminRequest.createTask(definition: "x").encoded == [0x00, 0x02, 0x04, 0x00, 0x01, 0x78])
        #expect(AdminRequest.listRounds(task: "", limit: 258).encoded == [0x00, 0x02, 0x09, 0x00, 0x00, 0x00, 0x01, 0x02])
        #expect(AdminRequest.revoke(publicKey: Self.key).encoded == [0x00, 0x02, 0x02] + Self.key)
        #expect(AdminRequest.pauseTask(task: "ab").encoded == [0x00, 0x02, 0x0C, 0x02, 0x61, 0x62])
        #expect(AdminRequest.resumeTask(task: "ab").encoded == [0x00, 0x02, 0x0D, 0x02, 0x61, 0x62])
        #expect(AdminRequest.retireTask(task: "ab").encoded == [0x00, 0x02, 0x0E, 0x02, 0x61, 0x62])
        #expect(AdminRequest.updateTask(definition: "x").encoded == [0x00, 0x02, 0x0F, 0x00, 0x01, 0x78])
        #expect(AdminRequest.enroll(publicKey: Self.key, label: "a").encoded == [0x00, 0x02, 0x01] + Self.key + [0x01, 0x61, 0x00])
        #expect(AdminResponse(status: .notFound, body: "no").encoded == [0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x02, 0x6E, 0x6F])
    }

    @Test("malformed requests are rejected")
    func malformed() {
        #expect(throws: WireError.unsupportedVersion(1)) { try AdminRequest(decoding: [0x00, 0x01, 0x03]) }
        #expect(throws: WireError.unknownMessageType(0x7F)) { try AdminRequest(decoding: [0x00, 0x02, 0x7F]) }
        #expect(throws: WireError.trailingBytes(count: 1)) { try AdminRequest(decoding: [0x00, 0x02, 0x03, 0x00]) }
        #expect(throws: WireError.self) { try AdminRequest(decoding: [0x00, 0x02, 0x02] + [UInt8](repeating: 1, count: 31)) }
        #expect(throws: WireError.invalidValue(field: "task", reason: "empty")) {
            try AdminRequest(decoding: [0x00, 0x02, 0x07, 0x00])
        }
        #expect(throws: WireError.invalidValue(field: "label", reason: "empty")) {
            try AdminRequest(decoding: [0x00, 0x02, 0x01] + Self.key + [0x00, 0x00])
        }
        #expect(throws: WireError.invalidValue(field: "endorsement", reason: "must be empty or 64 bytes")) {
            try AdminRequest(decoding: [0x00, 0x02, 0x01] + Self.key + [0x01, 0x61, 0x03, 1, 2, 3])
        }
        #expect(throws: WireError.invalidValue(field: "task", reason: "not UTF-8")) {
            try AdminRequest(decoding: [0x00, 0x02, 0x06, 0x01, 0xFF])
        }
        #expect(throws: WireError.invalidValue(field: "status", reason: "unknown status 9")) {
            try AdminResponse(decoding: [0x00, 0x02, 0x09, 0x00, 0x00, 0x00, 0x00])
        }
        #expect(throws: WireError.self) { try AdminResponse(decoding: [0x00, 0x02, 0x00, 0xFF, 0xFF, 0xFF, 0xFF]) }
    }
}
