import Testing

@testable import SecAggExperiment
import SecAggSimulation

@Suite("Experiment files")
struct ExperimentFileTests {
    @Test func gridIsTheProductOfTheListsWithSeedsInnermost() throws {
        let experiment = try Experiment(yaml: """
            name: grid
            seeds: [1, 2]
            parameters:
              clients: [20, 40]
              graph: [complete, harary]
              dimension: 10
              dropout: 0.1
            """)
        #expect(experiment.name == "grid")
        #expect(experiment.runs.count == 8)
        let first = experiment.runs[0].configuration
        #expect(first.clients == 20 && !first.harary && first.seed == 1 && first.dimension == 10)
        #expect(experiment.runs[1].configuration.seed == 2)
        #expect(experiment.runs[2].configuration.harary && experiment.runs[2].configuration.clients == 20)
        #expect(experiment.runs[4].configuration.clients == 40)
        #expect(Set(experiment.runs.map(\.key)).count == 8)
    }

    @Test func gridsOverrideTheSharedParametersAndDuplicatesRunOnce() throws {
        let experiment = try Experiment(yaml: """
            repetitions: 2
            parameters: {dimension: 5, graph: harary, clients: 30}
            grids:
              - {graph: complete, clients: [10, 20]}
              - {clients: [30, 60]}
              - {clients: 30}
            """, defaultName: "file")
        #expect(experiment.name == "file")
        // complete × {10, 20} and harary × {30, 60}, two seeds each; the third grid repeats harary 30.
        #expect(experiment.runs.count == 8)
        #expect(experiment.runs.filter { !$0.configuration.harary }.map(\.configuration.clients) == [10, 10, 20, 20])
        #expect(experiment.runs.allSatisfy { $0.configuration.dimension == 5 })
    }

    @Test func unknownKeysNameTheirLineAndTheNearestKey() {
        do {
            _ = try Experiment(yaml: """
                name: typo
                parameters:
                  clients: 20
                  epsilom: 1
                sedes: [1]
                """)
            Issue.record("an unknown key was accepted")
        } catch {
            #expect(error.problems.contains("unknown key 'parameters.epsilom' (line 4); did you mean 'epsilon'?"))
            #expect(error.problems.contains("unknown key 'sedes' (line 5); did you mean 'seeds'?"))
        }
    }

    @Test func badValuesNameKeyLineAndWhatIsExpected() {
        do {
            _ = try Experiment(yaml: """
                parameters:
                  clients: [20, many]
                  graph: ring
                  dropout: 1.5
                  dp: [none, local]
                seeds: x
                """)
            Issue.record("bad values were accepted")
        } catch {
            #expect(error.problems.contains("'parameters.clients' (line 2): expected a whole number >= 3, found 'many'"))
            #expect(error.problems.contains("'parameters.graph' (line 3): expected complete or harary, found 'ring'"))
            #expect(error.problems.contains("'parameters.dropout' (line 4): expected a fraction in [0, 1), found '1.5'"))
            #expect(error.problems.contains(
                "'parameters.dp' (line 5): expected none, distributed or central, found 'local'"))
            #expect(error.problems.contains("'seeds' (line 6): expected a whole number >= 0 or a list of them"))
        }
    }

    @Test func runsSimulateWouldRefuseAreErrorsBeforeAnythingRuns() {
        do {
            _ = try Experiment(yaml: """
                parameters: {clients: 20, dimension: 10, dp: distributed}
                """)
            Issue.record("a run without epsilon or sigma was accepted")
        } catch {
            #expect(error.problems.count == 1)
            #expect(error.problems[0].hasPrefix("secagg simulate --clients 20 "))
            #expect(error.problems[0].hasSuffix("--dp needs --epsilon or --sigma"))
        }
        #expect(throws: ExperimentFileError.self) { try Experiment(yaml: "[1, 2]") }
        #expect(throws: ExperimentFileError.self) { try Experiment(yaml: "parameters: {clients: [}") }
    }

    @Test func theRecordedCommandLineReproducesTheConfiguration() throws {
        var configuration = SimulationConfiguration()
        configuration.clients = 50
        configuration.privacy = .distributed
        configuration.epsilon = 0.5
        configuration.minimumSurvivors = 30
        configuration.designDropoutRate = 0.2
        configuration.dropPhase = .share
        configuration.corruptRate = 0.1
        configuration.transport = .tcp
        configuration.seed = 7
        let arguments = configuration.simulateArguments
        // Feeding the arguments back through the experiment parameters gives the same configuration.
        var rebuilt = SimulationConfiguration()
        var index = 0
        while index < arguments.count {
            let name = String(arguments[index].dropFirst(2))
            if name == "seed" {
                rebuilt.seed = UInt64(arguments[index + 1])!
            } else {
                let parameter = try #require(SimulateParameter(rawValue: name))
                try parameter.apply(arguments[index + 1], to: &rebuilt)
            }
            index += 2
        }
        rebuilt.workers = configuration.workers
        #expect(rebuilt == configuration)
        #expect(configuration.simulateCommandLine.hasPrefix("secagg simulate --clients 50 --dimension 10000"))
        #expect(configuration.simulateCommandLine.contains("--min-survivors 30"))
        #expect(configuration.simulateCommandLine.contains("--corrupt 0.1"))
        #expect(configuration.simulateCommandLine.hasSuffix("--seed 7 --transport tcp"))
        // At their defaults the two are left out: rows written before they existed keep their identity.
        #expect(!SimulationConfiguration().simulateCommandLine.contains("--corrupt"))
        #expect(!SimulationConfiguration().simulateCommandLine.contains("--transport"))
    }

    @Test func corruptAndTransportAreAxesAndTheirValuesAreChecked() throws {
        let experiment = try Experiment(yaml: """
            name: axes
            parameters: {clients: 50, dimension: 10, corrupt: [0.05, 0.2], transport: [inprocess, tcp]}
            """)
        #expect(experiment.runs.count == 4)
        #expect(experiment.runs.filter { $0.configuration.transport == .tcp }.count == 2)
        // A larger assumed corrupt fraction makes the automatic (k, t) choice ask for more neighbours.
        let degrees = try experiment.runs.map { try $0.configuration.resolve().neighbors }
        #expect(degrees[0] < degrees[2])
        do {
            _ = try Experiment(yaml: "parameters: {clients: 50, corrupt: 1.5, transport: udp}")
            Issue.record("bad corrupt and transport values were accepted")
        } catch {
            #expect(error.problems.count == 2)
            #expect(error.problems.contains { $0.contains("'parameters.corrupt'") && $0.contains("[0, 1)") })
            #expect(error.problems.contains { $0.contains("'parameters.transport'") && $0.contains("inprocess or tcp") })
        }
    }
}
