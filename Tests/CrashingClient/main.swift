// secagg-crashing-client: a test tool, never shipped. A client that joins a round like `secagg participate` and
// exits abruptly, as a crash would, when the request of the given phase arrives; the end-to-end tests start it
// to drop real processes at a chosen phase. (The hook it uses, `SecAggClient.participate(input:beforePhase:)`,
// has package access: it is not in the client library's public API, nor in the `secagg` command line.)
//
// Usage: secagg-crashing-client --coordinator HOST:PORT --coordinator-key HEX --identity FILE --task NAME
//        --input FILE.json --crash-at advertise|share|masked|consistency|unmask
import Foundation
import SecAggClient
import SecAggIdentity
import SecAggProtocol

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("secagg-crashing-client: \(message)\n".utf8))
    exit(1)
}

let options: [String: String] = {
    var options: [String: String] = [:]
    var arguments = CommandLine.arguments.dropFirst()
    while let name = arguments.popFirst() {
        guard name.hasPrefix("--"), let value = arguments.popFirst() else { fail("expected --name value pairs, got \(name)") }
        options[String(name.dropFirst(2))] = value
    }
    return options
}()

@MainActor func option(_ name: String) -> String {
    guard let value = options[name] else { fail("--\(name) is required") }
    return value
}

let phases: [String: RoundPhase] = [
    "advertise": .advertiseKeys, "share": .shareKeys, "masked": .maskedInputCollection,
    "consistency": .consistencyCheck, "unmask": .unmasking,
]
guard let crashPhase = phases[option("crash-at")] else { fail("unknown phase \(option("crash-at"))") }
let endpoint = option("coordinator").split(separator: ":")
guard endpoint.count == 2, let port = Int(endpoint[1]) else { fail("--coordinator must be HOST:PORT") }
guard let text = FileManager.default.contents(atPath: option("input")),
      let input = try? JSONDecoder().decode([UInt64].self, from: text) else {
    fail("--input must be a JSON array of non-negative integers")
}
let client: SecAggClient
do {
    client = SecAggClient(configuration: SecAggClientConfiguration(
        host: String(endpoint[0]), port: port, coordinatorKey: try IdentityFile.publicKey(fromHex: option("coordinator-key")),
        identity: try IdentityFile.load(from: option("identity")), task: option("task"), connectAttempts: 20))
} catch {
    fail("\(error)")
}
do {
    let receipt = try await client.participate(input: input) { phase in
        if phase == crashPhase { exit(0) }
    }
    print("finished before the crash phase: \(receipt.outcome)")
} catch {
    fail("\(error)")
}
exit(2)
