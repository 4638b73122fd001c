import Foundation
import Logging
import Metrics
import NIOCore
import NIOPosix
import Prometheus
import SecAggCoordinator
import SecAggCrypto
import SecAggPrivacy
import SecAggProtocol
import SecAggTransport
import SecAggWire
import SecAggTesting
import Testing

/// The metrics endpoint and the audit log against a real coordinator on loopback: a round of honest clients and
/// one stranger; the endpoint serves valid Prometheus text whose values follow the round, and the audit log holds
/// the round's records, chained and verifiable.
@Suite("Metrics endpoint and audit log of a live coordinator", .serialized)
struct MetricsEndpointTests {
    struct Response {
        var status: Int
        var headers: [String: String]
        var body: String
    }

    /// One HTTP/1.1 request, tried again (up to 5 times) if the connection fails: on a heavily loaded machine the
    /// endpoint's 10-second limit per connection can pass between connecting and writing.
    static func request(_ method: String, _ path: String, port: Int) async throws -> Response {
        var attempt = 1
        while true {
            do {
                return try await requestOnce(method, path, port: port)
            } catch where attempt < 5 {
                attempt += 1
            }
        }
    }

    /// One HTTP/1.1 request over a plain TCP connection; reads until the server closes.
    static func requestOnce(_ method: String, _ path: String, port: Int) async throws -> Response {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        var bytes: [UInt8] = []
        try await channel.executeThenClose { inbound, outbound in
            try await outbound.write(ByteBuffer(string: "\(method) \(path) HTTP/1.1\r\nHost: localhost\r\n\r\n"))
            for try await chunk in inbound { bytes += Array(chunk.readableBytesView) }
        }
        let text = String(decoding: bytes, as: UTF8.self)
        let parts = text.components(separatedBy: "\r\n\r\n")
        let head = try #require(parts.first).components(separatedBy: "\r\n")
        let statusLine = try #require(head.first).split(separator: " ")
        try #require(statusLine.count >= 2, "bad status line")
        let status = try #require(Int(statusLine[1]))
        var headers: [String: String] = [:]
        for line in head.dropFirst() {
            let pair = line.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            if pair.count == 2 { headers[pair[0].lowercased()] = pair[1] }
        }
        return Response(status: status, headers: headers, body: parts.dropFirst().joined(separator: "\r\n\r\n"))
    }

    /// A sample of the exposition text: metric name, labels, value.
    struct Sample: Hashable {
        var name: String
        var labels: [String: String]
        var value: Double
    }

    /// Parses Prometheus text exposition (format 0.0.4) strictly: every line a comment (`# TYPE`/`# HELP`) or a
    /// sample whose family was typed before it, valid names, quoted label values, a numeric value.
    static func parseExposition(_ text: String) throws -> [Sample] {
        let name = #/[a-zA-Z_:][a-zA-Z0-9_:]*/#
        var types: [String: String] = [:]
        var samples: [Sample] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
            if line.hasPrefix("# TYPE ") {
                let fields = line.split(separator: " ")
                try #require(fields.count == 4, "bad TYPE line: \(line)")
                let valid = (try? name.wholeMatch(in: fields[2])) != nil
                try #require(valid, "bad metric name: \(line)")
                try #require(["counter", "gauge", "histogram", "summary", "untyped"].contains(String(fields[3])), "bad type: \(line)")
                types[String(fields[2])] = String(fields[3])
                continue
            }
            if line.hasPrefix("# ") { continue }
            let match = try #require(
                try #/^(?<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?<labels>[^}]*)\})? (?<value>\S+)$/#.wholeMatch(in: line),
                "not a sample line: \(line)")
            let metric = String(match.output.name)
            let family = ["_bucket", "_sum", "_count"].reduce(metric) { family, suffix in
                types[family] == nil && family.hasSuffix(suffix) ? String(family.dropLast(suffix.count)) : family
            }
            try #require(types[family] != nil, "sample before its TYPE line: \(line)")
            var labels: [String: String] = [:]
            if let text = match.output.labels, !text.isEmpty {
                for pair in text.matches(of: #/(?<key>[a-zA-Z_][a-zA-Z0-9_]*)="(?<value>(?:[^"\\]|\\.)*)",?/#) {
                    labels[String(pair.output.key)] = String(pair.output.value)
                }
                try #require(text.matches(of: #/="/#).count == labels.count, "malformed labels: \(line)")
            }
            let valueText = String(match.output.value)
            let value = try #require(Double(valueText) ?? (valueText == "+Inf" ? .infinity : nil), "bad value: \(line)")
            samples.append(Sample(name: metric, labels: labels, value: value))
        }
        return samples
    }

    static func value(_ samples: [Sample], _ name: String, _ labels: [String: String]) -> Double? {
        samples.first { sample in
            sample.name == name && labels.allSatisfy { key, value in sample.labels[key] == value }
        }?.value
    }

    @Test("GET /metrics serves Prometheus text that follows a round; other paths 404; the audit log verifies")
    func liveEndpoint() async throws {
        let registry = PrometheusCollectorRegistry()
        let factory = PrometheusMetricsFactory(registry: registry)
        let folder = try TestFiles.folder()
        let auditPath = folder.appendingPathComponent("audit.log").path
        let audit = try AuditLog(path: auditPath, logger: AuditFiles.logger, metricsFactory: factory)
        let endpoint = MetricsEndpoint(
            settings: MetricsEndpointSettings(enabled: true, host: "127.0.0.1", port: 0),
            logger: Logger(label: "test.metrics") { _ in SwiftLogNoOpLogHandler() },
            render: { registry.emitToBuffer() })
        var enrolled: [Ed25519.VerifyingKey: String] = [:]
        for (index, key) in ServiceHarness.honest.enumerated() { enrolled[key.verifyingKey] = "honest-\(index)" }
        let service = try CoordinatorService(
            settings: CoordinatorSettings(
                host: "127.0.0.1", port: 0, identity: ServiceHarness.coordinatorKey, enrolled: enrolled,
                tasks: [ServiceHarness.task(clients: ServiceHarness.honestCount)], limits: ServiceHarness.limits,
                observers: [audit, CoordinatorMetrics(factory: factory)]),
            logger: Logger(label: "test.coordinator") { _ in SwiftLogNoOpLogHandler() })

        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await service.run() }
            group.addTask { try await endpoint.run() }
            let port = try await service.listeningPort()
            let metricsPort = try await endpoint.listeningPort()

            let before = try await Self.request("GET", "/metrics", port: metricsPort)
            #expect(before.status == 200)
            #expect(before.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8")
            let initial = try Self.parseExposition(before.body)
            #expect(Self.value(initial, "secagg_rounds_total", ["task": "sum"]) == nil)

            // A stranger (not enrolled) is refused during the handshake (told why, then closed): an authentication
            // failure.
            let answer = try await ServiceHarness.connect(port: port, as: ServiceHarness.stranger) { session, receiver in
                try? await session.send(JoinRequest(taskName: "sum").encoded)
                return try await receiver.receive(within: .seconds(5)).flatMap(JoinResponse.refusal(in:))?.0
            }
            #expect(answer == .notEnrolled, "a stranger must get no session, only its refusal")
            try await ServiceHarness.honestRound(port: port, service: service)

            let after = try await Self.request("GET", "/metrics", port: metricsPort)
            let samples = try Self.parseExposition(after.body)
            #expect(Self.value(samples, "secagg_rounds_total", ["task": "sum", "outcome": "completed", "code": "none"]) == 1)
            #expect(Self.value(samples, "secagg_rounds_started_total", ["task": "sum"]) == 1)
            #expect(Self.value(samples, "secagg_phase_clients", ["task": "sum", "phase": "advertise"]) == Double(ServiceHarness.honestCount))
            #expect(Self.value(samples, "secagg_phase_duration_seconds_count", ["task": "sum", "phase": "masked"]) == 1)
            #expect((Self.value(samples, "secagg_received_bytes_total", ["task": "sum"]) ?? 0) > 0)
            #expect((Self.value(samples, "secagg_sent_bytes_total", ["task": "sum"]) ?? 0) > 0)
            #expect(Self.value(samples, "secagg_authentication_failures_total", ["reason": "not_enrolled"]) == 1)

            let missing = try await Self.request("GET", "/other", port: metricsPort)
            #expect(missing.status == 404)
            let posted = try await Self.request("POST", "/metrics", port: metricsPort)
            #expect(posted.status == 405)
            let health = try await Self.request("GET", "/healthz", port: metricsPort)
            #expect(health.status == 200)
            let head = try await Self.request("HEAD", "/metrics", port: metricsPort)
            #expect(head.status == 200 && head.body.isEmpty)
            group.cancelAll()
        }

        let verification = AuditChain.verify(Array(try Data(contentsOf: URL(fileURLWithPath: auditPath))))
        #expect(verification.isIntact)
        let records = try TestFiles.lines(auditPath).map { try AuditValue(parsing: Array($0.utf8)) }
        let kinds = records.compactMap { $0["kind"]?.stringValue }
        #expect(kinds.contains("authentication_failed"))
        #expect(kinds.contains("round_starting"))
        #expect(kinds.filter { $0 == "phase_started" }.count >= 3)
        let finished = try #require(records.last { $0["kind"] == "round_finished" })
        #expect(finished["outcome"] == "released")
        #expect(finished["sum_blake2b"]?.stringValue == AuditLog.sumHash(ServiceHarness.expectedHonestSum))
        let text = try String(contentsOfFile: auditPath, encoding: .utf8)
        #expect(!text.contains(ServiceHarness.expectedHonestSum.map(String.init).joined(separator: ",")))
    }

    // Issue 13, finding 8: 40 idle connections (more than the endpoint's 32 slots, each allowed 10 s for its
    // request) made 14 of 14 /healthz probes fail, and the shipped liveness probe would have restarted the daemon.
    // Now a new connection displaces the oldest one still waiting for its request: every probe is answered at once.
    @Test("/healthz answers every probe while idle connections fill the endpoint")
    func healthUnderIdleFlood() async throws {
        let endpoint = MetricsEndpoint(
            settings: MetricsEndpointSettings(enabled: true, host: "127.0.0.1", port: 0),
            logger: Logger(label: "test.metrics") { _ in SwiftLogNoOpLogHandler() },
            render: { [] })
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await endpoint.run() }
            let port = try await endpoint.listeningPort()
            var idle: [any Channel] = []
            for _ in 0..<(MetricsEndpoint.maximumConnections + 8) {
                idle.append(try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                    .connect(host: "127.0.0.1", port: port).get())
            }
            var answered = 0
            for _ in 0..<14 {
                let start = ContinuousClock.now
                let health = try await Self.requestOnce("GET", "/healthz", port: port)
                if health.status == 200, ContinuousClock.now - start < .seconds(2) { answered += 1 }
                // Keep the endpoint full: a new idle connection for the one the probe displaced.
                idle.append(try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                    .connect(host: "127.0.0.1", port: port).get())
            }
            #expect(answered == 14, "\(answered) of 14 probes answered within 2 s")
            for channel in idle { try? await channel.close() }
            group.cancelAll()
        }
    }

    // Proves /readyz follows the service (503 before it listens, 200 once it does), the way secaggd wires it: the
    // readiness check asks the service directly (no task of its own polling it).
    @Test("/readyz is 503 until the coordinator listens, then 200")
    func readiness() async throws {
        let service = try CoordinatorService(
            settings: CoordinatorSettings(
                host: "127.0.0.1", port: 0, identity: ServiceHarness.coordinatorKey, enrolled: [:],
                tasks: [ServiceHarness.task(clients: ServiceHarness.honestCount)], limits: ServiceHarness.limits),
            logger: Logger(label: "test.coordinator") { _ in SwiftLogNoOpLogHandler() })
        let endpoint = MetricsEndpoint(
            settings: MetricsEndpointSettings(enabled: true, host: "127.0.0.1", port: 0),
            logger: Logger(label: "test.metrics") { _ in SwiftLogNoOpLogHandler() },
            render: { [] }, ready: { service.isListening })
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await endpoint.run() }
            let metricsPort = try await endpoint.listeningPort()
            let before = try await Self.request("GET", "/readyz", port: metricsPort)
            #expect(before.status == 503)
            group.addTask { try await service.run() }
            _ = try await service.listeningPort()
            let after = try await Self.request("GET", "/readyz", port: metricsPort)
            #expect(after.status == 200)
            group.cancelAll()
        }
    }

    // Issue 12: after a restart the budget gauges were missing from /metrics until a round ran.
    @Test("a task's budget gauges are exported as soon as the service listens, before any round")
    func budgetGaugesAtStart() async throws {
        let registry = PrometheusCollectorRegistry()
        let privacy = TaskPrivacy(
            placement: .central, epsilonPerRound: 1, delta: 1e-6, l2Sensitivity: 100, budgetEpsilon: 7)
        let task = ServiceHarness.task(clients: ServiceHarness.honestCount, privacy: privacy)
        try await ServiceHarness.withService(
            tasks: [task], observers: [CoordinatorMetrics(factory: PrometheusMetricsFactory(registry: registry))]
        ) { _, _, _ in
            let samples = try Self.parseExposition(registry.emitToString())
            #expect(Self.value(samples, "secagg_privacy_budget_remaining_epsilon", ["task": "sum"]) == 7)
            #expect(Self.value(samples, "secagg_privacy_budget_spent_epsilon", ["task": "sum"]) == 0)
        }
    }

    @Test("budget gauges follow the ledger; refused joins and failed handshakes use bounded labels")
    func boundedLabelsAndBudget() throws {
        let registry = PrometheusCollectorRegistry()
        let metrics = CoordinatorMetrics(factory: PrometheusMetricsFactory(registry: registry))
        let roundID = try #require(RoundID(bytes: Array(repeating: 1, count: 16)))
        var ledger = try PrivacyBudget(epsilon: 4, delta: 1e-6)
        let entry = try ledger.charge(
            roundID: "\(roundID)", placement: .central, rho: 0.1, sigma: 10, minimumSurvivors: 5, clip: 1, bits: 32)
        metrics.observe(.privacyCharged(task: "dp", roundID: roundID, entry: entry, ledger: ledger))
        metrics.observe(.joinRefused(task: "made\nup\"task", identity: "ab", reason: "unknown task"))
        metrics.observe(.joinRefused(task: "dp", identity: "ab", reason: "already joined"))
        metrics.observe(.authenticationFailed(remote: "x", reason: "peer rejected: identity 00 is not enrolled"))
        metrics.observe(.authenticationFailed(remote: "x", reason: "anything a peer might make us say"))
        let samples = try Self.parseExposition(registry.emitToString())
        let remaining = try #require(Self.value(samples, "secagg_privacy_budget_remaining_epsilon", ["task": "dp"]))
        let spent = try #require(Self.value(samples, "secagg_privacy_budget_spent_epsilon", ["task": "dp"]))
        #expect(spent > 0 && remaining < 4 && abs(remaining + spent - 4) < 1e-9)
        #expect(Self.value(samples, "secagg_privacy_budget_remaining_rho", ["task": "dp"]) == ledger.rhoRemaining)
        #expect(Self.value(samples, "secagg_join_refusals_total", ["task": "unknown", "reason": "unknown_task"]) == 1)
        #expect(Self.value(samples, "secagg_join_refusals_total", ["task": "dp", "reason": "already_joined"]) == 1)
        #expect(Self.value(samples, "secagg_authentication_failures_total", ["reason": "not_enrolled"]) == 1)
        #expect(Self.value(samples, "secagg_authentication_failures_total", ["reason": "other"]) == 1)
        let labelValues = Set(samples.flatMap { $0.labels.values })
        #expect(labelValues.isSubset(of: ["dp", "unknown", "unknown_task", "already_joined", "not_enrolled", "other"]))
    }
}
