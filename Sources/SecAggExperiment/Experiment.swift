import SecAggSimulation
import SecAggYAMLSchema
import Yams

/// An experiment file (`secagg experiment FILE.yaml`): a grid over `secagg simulate` options, expanded into runs.
///
///     name: scaling                  # names the experiment in every result row
///     description: time vs N          # optional
///     seeds: [1, 2, 3]               # or one seed; or `repetitions: 3` for seeds 1...3 (default: seed 1)
///     workers: 2                     # client workers per run (default: the number of cores)
///     parameters:                    # simulate options, without dashes; a list is an axis of the grid
///       clients: [100, 1000]
///       graph: [complete, harary]
///       dimension: 1000
///     grids:                         # optional: several grids, each over `parameters` (its keys override them)
///       - {graph: complete, clients: [100, 300]}
///       - {graph: harary, clients: [100, 300, 1000, 3000]}
///
/// The runs are every combination of the values, for every seed, in file order (seeds innermost). Unknown keys,
/// values of the wrong kind and combinations `simulate` would refuse are errors before anything runs, each with its
/// line (and the nearest known key for a misspelling): a sweep never runs without a parameter the researcher meant.
public struct Experiment: Sendable {
    public var name: String
    public var description: String?
    /// Client workers per run; nil for the number of cores (the caller decides).
    public var workers: Int?
    /// Every run of the grid, in order, duplicates removed.
    public var runs: [ExperimentRun]

    /// The keys an experiment file accepts.
    public static let schema: YAMLKeySchema = {
        let parameters = YAMLKeySchema.keys(SimulateParameter.self)
        return .mapping([
            "name": .value, "description": .value, "seeds": .value, "repetitions": .value, "workers": .value,
            "parameters": parameters, "grids": .list(parameters),
        ])
    }()

    /// Reads an experiment file.
    ///
    /// - Parameter defaultName: The name when the file has no `name:` (e.g. the file's base name).
    /// - Throws: ``ExperimentFileError`` listing every problem found: not YAML, unknown keys, bad values, runs
    ///   `simulate` would refuse.
    public init(yaml text: String, defaultName: String = "experiment") throws(ExperimentFileError) {
        let root: Node
        do {
            guard let node = try Yams.compose(yaml: text) else { throw ExperimentFileError(["the file is empty"]) }
            root = node
        } catch let error as ExperimentFileError {
            throw error
        } catch {
            throw ExperimentFileError(["not valid YAML: \(error)"])
        }
        guard case let .mapping(top) = root else {
            throw ExperimentFileError(["the file must be a mapping with name, seeds and parameters (line \(Self.line(root)))"])
        }
        var problems = Self.schema.unknownKeys(in: root)
        func scalar(_ key: String) -> (String, Int)? {
            guard let node = top[key] else { return nil }
            guard let text = node.scalar?.string else {
                problems.append("'\(key)' (line \(Self.line(node))): expected one value")
                return nil
            }
            return (text, Self.line(node))
        }
        name = scalar("name")?.0 ?? defaultName
        description = scalar("description")?.0
        workers = nil
        if let (text, line) = scalar("workers") {
            if let value = Int(text), value >= 1 { workers = value } else {
                problems.append("'workers' (line \(line)): expected a whole number >= 1, found '\(text)'")
            }
        }

        var seeds: [UInt64] = [1]
        if let node = top["seeds"] {
            let values = Self.scalars(node)
            let parsed = values.compactMap { UInt64($0.text) }
            if values.isEmpty || parsed.count != values.count {
                problems.append("'seeds' (line \(Self.line(node))): expected a whole number >= 0 or a list of them")
            } else {
                seeds = parsed
            }
            if top["repetitions"] != nil { problems.append("give 'seeds' or 'repetitions', not both") }
        } else if let (text, line) = scalar("repetitions") {
            if let count = Int(text), count >= 1 { seeds = (1...UInt64(count)).map { $0 } } else {
                problems.append("'repetitions' (line \(line)): expected a whole number >= 1, found '\(text)'")
            }
        }

        let base = top["parameters"].map { Self.axes(of: $0, path: "parameters", problems: &problems) } ?? []
        var grids: [[Axis]] = []
        if let node = top["grids"] {
            if case let .sequence(list) = node, !list.isEmpty {
                for (index, element) in list.enumerated() {
                    let own = Self.axes(of: element, path: "grids[\(index)]", problems: &problems)
                    let overridden = Set(own.map(\.parameter))
                    grids.append(base.filter { !overridden.contains($0.parameter) } + own)
                }
            } else {
                problems.append("'grids' (line \(Self.line(node))): expected a list of parameter mappings")
            }
        } else {
            grids = [base]
        }
        guard problems.isEmpty else { throw ExperimentFileError(problems) }

        var runs: [ExperimentRun] = []
        var seen: Set<String> = []
        var refused: [String] = []
        for grid in grids {
            for combination in Self.product(grid) {
                for seed in seeds {
                    var configuration = SimulationConfiguration()
                    for (parameter, value) in combination {
                        // Values were checked one by one while reading the axes.
                        try? parameter.apply(value, to: &configuration)
                    }
                    configuration.seed = seed
                    let run = ExperimentRun(configuration: configuration)
                    guard seen.insert(run.key).inserted else { continue }
                    if let problem = run.problem { refused.append("\(run.key): \(problem)") }
                    runs.append(run)
                }
            }
        }
        if !refused.isEmpty {
            let shown = refused.prefix(10)
            throw ExperimentFileError(Array(shown) + (refused.count > 10 ? ["... and \(refused.count - 10) more runs"] : []))
        }
        guard !runs.isEmpty else { throw ExperimentFileError(["the experiment has no runs"]) }
        self.runs = runs
    }

    /// One axis of a grid: a parameter and its values, in file order.
    struct Axis {
        var parameter: SimulateParameter
        var values: [String]
    }

    /// The axes of a `parameters` mapping, checking each value (problems are noted, not thrown).
    private static func axes(of node: Node, path: String, problems: inout [String]) -> [Axis] {
        guard case let .mapping(mapping) = node else {
            problems.append("'\(path)' (line \(line(node))): expected a mapping of simulate options")
            return []
        }
        var axes: [Axis] = []
        for (key, value) in mapping {
            // Unknown keys were reported by the schema.
            guard let name = key.string, let parameter = SimulateParameter(rawValue: name) else { continue }
            let values = scalars(value)
            if values.isEmpty {
                problems.append("'\(path).\(name)' (line \(line(value))): expected a value or a list of values")
                continue
            }
            var scratch = SimulationConfiguration()
            for entry in values {
                do throws(ParameterValueError) {
                    try parameter.apply(entry.text, to: &scratch)
                } catch {
                    problems.append("'\(path).\(name)' (line \(entry.line)): expected \(error.expected), found '\(entry.text)'")
                }
            }
            axes.append(Axis(parameter: parameter, values: values.map(\.text)))
        }
        return axes
    }

    /// A scalar or a list of scalars, with their lines; empty for anything else.
    private static func scalars(_ node: Node) -> [(text: String, line: Int)] {
        switch node {
        case let .scalar(scalar): return [(scalar.string, line(node))]
        case let .sequence(sequence):
            let items = sequence.map { item in item.scalar.map { ($0.string, line(item)) } }
            return items.contains { $0 == nil } ? [] : items.compactMap { $0 }
        case .mapping, .alias: return []
        }
    }

    private static func line(_ node: Node) -> Int { node.mark?.line ?? 0 }

    /// Every combination of the axes' values, the first axis varying slowest.
    static func product(_ axes: [Axis]) -> [[(SimulateParameter, String)]] {
        var combinations: [[(SimulateParameter, String)]] = [[]]
        for axis in axes {
            combinations = combinations.flatMap { prefix in axis.values.map { prefix + [(axis.parameter, $0)] } }
        }
        return combinations
    }
}

/// Why an experiment file cannot be run: every problem found, one per line.
public struct ExperimentFileError: Error, Sendable, CustomStringConvertible {
    public var problems: [String]

    public init(_ problems: [String]) { self.problems = problems }

    public var description: String { problems.joined(separator: "\n") }
}

/// One run of an experiment: a full simulation configuration (seed included).
public struct ExperimentRun: Sendable {
    public var configuration: SimulationConfiguration

    public init(configuration: SimulationConfiguration) { self.configuration = configuration }

    /// The exact `secagg simulate` command that repeats this run; also its identity in a results file (sweeps
    /// resume by skipping the keys already written).
    public var key: String { configuration.simulateCommandLine }

    /// Why `secagg simulate` would refuse this run, or nil.
    public var problem: String? {
        if configuration.epsilon != nil, configuration.sigma != nil { return "give epsilon or sigma, not both" }
        do throws(SimulationConfigurationError) {
            _ = try configuration.resolve()
            return nil
        } catch {
            return error.description
        }
    }
}
