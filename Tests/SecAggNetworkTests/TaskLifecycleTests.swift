import Foundation
import Logging
@testable import SecAggCoordinator
import SecAggPrivacy
import SecAggTransport
import SecAggWire
import SecAggTesting
import Testing

/// Issue 12: a budget-exhausted or mistyped task lived forever — there was no way to pause, change or retire one.
/// `secagg admin task pause|resume|retire|update`: each state is committed to the store before the scheduler
/// follows, and audited; a budget change keeps the ledger's entries and is audited so the store/audit cross-check
/// accepts it.
@Suite("Task lifecycle through the admin requests", .serialized)
struct TaskLifecycleTests {
    typealias Base = ServiceHarness

    static let dpDefinition = """
        name: dp
        dimension: 4
        max_input: 10
        graph: complete
        min_clients: 3
        max_clients: 5
        gather_seconds: 60
        privacy: {noise: central, epsilon_per_round: 1, delta: 1.0e-6, clip: 10, budget_epsilon: 5}
        """

    /// Joins `task` as the intruder and returns the answer; a client that is accepted waits until it is closed.
    static func join(_ task: String, port: Int) async throws -> JoinResponse {
        try await Base.connect(port: port, as: Base.intruder) { session, receiver in
            try await session.send(JoinRequest(taskName: task).encoded)
            return try JoinResponse(decoding: try #require(try await receiver.receive(within: .seconds(5))))
        }
    }

    @Test("pause releases the waiting clients and refuses joins; resume runs rounds again; both audited")
    func pauseAndResume() async throws {
        let recorder = EventRecorder()
        try await Base.withService(tasks: [Base.task(clients: Base.honestCount)], observers: [recorder]) { service, port, _ in
            try await Base.connect(port: port, as: Base.intruder) { session, receiver in
                try await AdmissionTests.join("sum", session, &receiver)
                let paused = await service.handleAdmin(.pauseTask(task: "sum"), actor: "test")
                #expect(paused.status == .ok, "\(paused.body)")
                #expect(paused.body.contains(#""state":"paused""#), "\(paused.body)")
                let withdrawn = await AdmissionTests.withdrawn(&receiver, within: .seconds(5))
                #expect(withdrawn?.refusal == .shuttingDown && withdrawn?.reason.contains("paused") == true,
                        "a waiting client is released, and told why: \(String(describing: withdrawn))")
            }
            let refused = try await Self.join("sum", port: port)
            guard case let .refused(code, reason) = refused.result else {
                Issue.record("a join to a paused task was accepted")
                return
            }
            #expect(code == .shuttingDown && reason.contains("paused"))
            #expect(await service.handleAdmin(.pauseTask(task: "sum"), actor: "test").status == .failed)
            let listed = await service.handleAdmin(.listTasks, actor: "test")
            #expect(listed.body.contains(#""state":"paused""#), "\(listed.body)")

            let resumed = await service.handleAdmin(.resumeTask(task: "sum"), actor: "test")
            #expect(resumed.status == .ok, "\(resumed.body)")
            try await Base.honestRound(port: port, service: service)
            let changes = recorder.events.compactMap { event -> String? in
                if case let .taskChanged(task, summary, actor) = event, task == "sum", actor == "test" { summary } else { nil }
            }
            #expect(changes == ["paused", "resumed"])
        }
    }

    @Test("update changes an admin task for later rounds; a budget change keeps the ledger and is audited")
    func update() async throws {
        let recorder = EventRecorder()
        try await Base.withService(tasks: [Base.task(clients: Base.honestCount)], observers: [recorder]) { service, _, _ in
            let created = await service.handleAdmin(.createTask(definition: Self.dpDefinition), actor: "test")
            #expect(created.status == .ok, "\(created.body)")
            let raised = Self.dpDefinition
                .replacingOccurrences(of: "budget_epsilon: 5", with: "budget_epsilon: 9")
                .replacingOccurrences(of: "max_clients: 5", with: "max_clients: 6")
            let updated = await service.handleAdmin(.updateTask(definition: raised), actor: "test")
            #expect(updated.status == .ok, "\(updated.body)")
            #expect(updated.body.contains("privacy.budget_epsilon: 5 → 9") && updated.body.contains("max_clients: 5 → 6"), "\(updated.body)")
            let ledger = try #require(await service.privacyLedger(of: "dp"))
            #expect(ledger.epsilonLimit == 9 && ledger.delta == 1e-6)
            #expect(recorder.events.contains { if case let .budgetChanged("dp", changed, "test") = $0 { changed == ledger } else { false } })
            #expect(await service.handleAdmin(.updateTask(definition: raised), actor: "test").status == .failed,
                    "an update that changes nothing is refused")

            for (bad, expected) in [
                (raised.replacingOccurrences(of: "delta: 1.0e-6", with: "delta: 1.0e-5"), "delta cannot change"),
                (raised.components(separatedBy: "\n").filter { !$0.hasPrefix("privacy:") }.joined(separator: "\n"),
                 "privacy cannot be removed"),
            ] {
                let answer = await service.handleAdmin(.updateTask(definition: bad), actor: "test")
                #expect(answer.status == .invalid && answer.body.contains(expected), "\(answer.body)")
            }
            #expect(try #require(await service.privacyLedger(of: "dp")).epsilonLimit == 9, "a refused update changes nothing")
            let configTask = await service.handleAdmin(.updateTask(definition: """
                name: sum
                dimension: 4
                max_input: 10
                min_clients: 3
                max_clients: 9
                """), actor: "test")
            #expect(configTask.status == .failed && configTask.body.contains("configuration file"), "\(configTask.body)")
        }
    }

    // Issue 12: admin JSON mixed camelCase (the ledger entries' `roundID`, `localSigma`) with snake_case.
    @Test("budget show gives the ledger entries in snake_case like every other admin answer")
    func budgetShowIsSnakeCase() async throws {
        try await Base.withService(tasks: [Base.task(clients: Base.honestCount)]) { service, _, _ in
            #expect(await service.handleAdmin(.createTask(definition: Self.dpDefinition), actor: "test").status == .ok)
            let scheduler = try #require(service.schedulers["dp"])
            let roundID = try #require(RoundID(bytes: [UInt8](repeating: 3, count: 16)))
            guard case .success = await scheduler.admit(roundID: roundID, minimumSurvivors: 3, clients: 5) else {
                Issue.record("the charge was refused")
                return
            }
            let shown = await service.handleAdmin(.showBudget(task: "dp"), actor: "test")
            #expect(shown.status == .ok)
            #expect(shown.body.contains(#""round_id":"\#(roundID)""#) && shown.body.contains(#""minimum_survivors":3"#), "\(shown.body)")
            #expect(!shown.body.contains("roundID") && !shown.body.contains("minimumSurvivors"), "\(shown.body)")
        }
    }

    @Test("retire ends a task: joins refused, no resume, and the store keeps it retired")
    func retire() async throws {
        try await Base.withService(tasks: [Base.task(clients: Base.honestCount), Base.sideTask]) { service, port, _ in
            let retired = await service.handleAdmin(.retireTask(task: "sum"), actor: "test")
            #expect(retired.status == .ok, "\(retired.body)")
            let refused = try await Self.join("sum", port: port)
            guard case let .refused(code, reason) = refused.result else {
                Issue.record("a join to a retired task was accepted")
                return
            }
            #expect(code == .shuttingDown && reason.contains("retired"))
            #expect(await service.handleAdmin(.resumeTask(task: "sum"), actor: "test").status == .failed)
            #expect(await service.handleAdmin(.pauseTask(task: "sum"), actor: "test").status == .failed)
        }
    }

    @Test("after a restart a retired task does not run (even if configured) and its name cannot be reused")
    func retiredAcrossRestarts() async throws {
        let store = try CoordinatorStore.inMemory()
        let sum = Base.task(clients: Base.honestCount)
        let settings = CoordinatorSettings(
            host: "127.0.0.1", port: 0, identity: Base.coordinatorKey, enrolled: [:], tasks: [sum, Base.sideTask])
        let logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }
        #expect(try CoordinatorService.storedTasks(settings: settings, store: store, logger: logger).map(\.task.name) == ["sum", "side"])
        try store.setTaskState(name: "sum", .retired)
        try store.setTaskState(name: "side", .paused)
        let loaded = try CoordinatorService.storedTasks(settings: settings, store: store, logger: logger)
        #expect(loaded.map(\.task.name) == ["side"] && loaded.first?.state == .paused)
        #expect(try store.tasks().first { $0.name == "sum" }?.state == .retired, "the state survives")
    }

    @Test("a retired admin task's name cannot be given to a new task after a restart (its ledger is kept by name)")
    func retiredNameIsTaken() async throws {
        let folder = try TestFiles.folder()
        var settings = CoordinatorSettings(
            host: "127.0.0.1", port: 0, identity: Base.coordinatorKey, enrolled: [:], tasks: [Base.sideTask])
        settings.storePath = folder.appendingPathComponent("store.sqlite").path
        let logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }
        do {
            let service = try CoordinatorService(settings: settings, logger: logger)
            #expect(await service.handleAdmin(.createTask(definition: Self.dpDefinition), actor: "test").status == .ok)
            #expect(await service.handleAdmin(.retireTask(task: "dp"), actor: "test").status == .ok)
        }
        let restarted = try CoordinatorService(settings: settings, logger: logger)
        #expect(await restarted.privacyLedger(of: "dp") == nil, "a retired task is not loaded")
        let again = await restarted.handleAdmin(.createTask(definition: Self.dpDefinition), actor: "test")
        #expect(again.status == .failed && again.body.contains("retired"), "\(again.body)")
    }
}
