import Foundation
import SecAggProtocol
import SecAggSimulation
import SecAggWire

/// One value of a result row: written as text in CSV, typed in JSON Lines.
public enum ResultValue: Sendable, Equatable {
    case text(String)
    case integer(Int)
    case number(Double)
    case flag(Bool)
    /// Not applicable to this run (an empty CSV cell, JSON null).
    case missing

    /// The CSV cell (unquoted; the writer quotes it when needed).
    public var csvText: String {
        switch self {
        case let .text(text): return text
        case let .integer(value): return "\(value)"
        case let .number(value): return value.isFinite ? "\(value)" : ""
        case let .flag(value): return value ? "true" : "false"
        case .missing: return ""
        }
    }

    /// The JSON value.
    public var jsonText: String {
        switch self {
        case let .text(text): return JSONText.quoted(text)
        case let .integer(value): return "\(value)"
        case let .number(value): return value.isFinite ? "\(value)" : "null"
        case let .flag(value): return value ? "true" : "false"
        case .missing: return "null"
        }
    }
}

/// One run's line in a results file: its parameters, outcome and measurements, in the order of ``columns``.
public struct ResultRow: Sendable {
    /// The column names of every results file, in order. Times are seconds, sizes bytes; `bytes_*` cover the
    /// clients whose input is in the sum (`bytes_scope` says "survivors", or "invited" when the round aborted).
    public static let columns: [String] = [
        "experiment", "version", "command", "clients", "dimension", "bits", "graph", "neighbors", "threshold",
        "t_min", "mode", "corrupt", "transport", "dropout", "design_dropout", "drop_phase", "dp", "epsilon_target", "sigma_setting", "delta",
        "encoder", "clip", "seed", "success", "abort_reason", "wall_seconds", "setup_seconds",
    ] + RoundPhase.allCases.map { "seconds_\($0)" } + [
        "bytes_up_mean", "bytes_up_max", "bytes_down_mean", "bytes_down_max", "bytes_scope", "survivors",
        "noise_sigma_per_client", "noise_sigma_total", "epsilon", "rho", "penalty", "accountant", "rmse",
        "predicted_rmse", "max_error",
    ]

    /// The values, one per column.
    public var values: [ResultValue]

    /// The row of `value` in column `name`.
    public subscript(name: String) -> ResultValue {
        guard let index = Self.columns.firstIndex(of: name), index < values.count else { return .missing }
        return values[index]
    }

    /// The row of a finished run.
    public init(experiment: String, run: ExperimentRun, report: SimulationReport) {
        let configuration = report.configuration
        let parameters = report.parameters
        let calibration = parameters.calibration
        let optional: (Double?) -> ResultValue = { $0.map(ResultValue.number) ?? .missing }
        var byName: [String: ResultValue] = [
            "experiment": .text(experiment),
            "version": .text("\(SecAggVersion.release)"),
            "command": .text(run.key),
            "clients": .integer(configuration.clients),
            "dimension": .integer(configuration.dimension),
            "bits": .integer(configuration.bits),
            // As configured (SecAgg or SecAgg+); `neighbors` shows when a Harary degree covers everyone.
            "graph": .text(configuration.harary ? "harary" : "complete"),
            "neighbors": .integer(parameters.neighbors),
            "threshold": .integer(parameters.threshold),
            "t_min": .integer(parameters.minimumSurvivors),
            "mode": .text(configuration.mode == .active ? "active" : "honest"),
            "corrupt": .number(configuration.corruptRate),
            "transport": .text(configuration.transport.rawValue),
            "dropout": .number(configuration.dropoutRate),
            "design_dropout": .number(configuration.designDropoutRate),
            "drop_phase": .text(configuration.dropPhase.rawValue),
            "dp": .text(configuration.privacy.rawValue),
            "epsilon_target": optional(configuration.epsilon),
            "sigma_setting": optional(configuration.sigma),
            "delta": configuration.privacy == .none ? .missing : .number(configuration.delta),
            "encoder": .text(configuration.encoder.rawValue),
            "clip": configuration.encoder == .float ? .number(configuration.clip) : .missing,
            "seed": .text("\(configuration.seed)"),
            "success": .flag(report.abortReason == nil && report.verified),
            "abort_reason": report.abortReason.map { .text($0.description) } ?? .missing,
            "wall_seconds": .number(report.wallSeconds),
            "setup_seconds": .number(report.setupSeconds),
            "bytes_up_mean": .number(report.bytesUpPerClient),
            "bytes_up_max": report.bytesUpMax.map(ResultValue.integer) ?? .missing,
            "bytes_down_mean": .number(report.bytesDownPerClient),
            "bytes_down_max": report.bytesDownMax.map(ResultValue.integer) ?? .missing,
            "bytes_scope": .text(report.bytesScope),
            "survivors": .integer(report.survivors),
            "noise_sigma_per_client": optional(calibration?.localSigma),
            "noise_sigma_total": optional(calibration?.sigma),
            "epsilon": optional(calibration?.epsilon),
            "rho": optional(calibration?.rhoTotal),
            "penalty": optional(calibration.map { $0.curvePerRelease.repeated($0.parameters.rounds).penalty }),
            "accountant": calibration.map { .text($0.accountant.rawValue) } ?? .missing,
            "rmse": optional(report.privacy?.rmse),
            "predicted_rmse": optional(report.privacy?.predictedRMSE),
            "max_error": optional(report.privacy?.maximumError),
        ]
        for (phase, seconds) in report.phaseSeconds { byName["seconds_\(phase)"] = .number(seconds) }
        values = Self.columns.map { byName[$0] ?? .missing }
    }

    /// A row read back from a results file (every value as text, missing when empty).
    public init(csvCells cells: [String]) {
        values = cells.map { $0.isEmpty ? .missing : .text($0) }
    }

    /// The CSV line (with the line break).
    public var csvLine: String { CSV.line(values.map(\.csvText)) }

    /// The JSON Lines line (with the line break): one object, keys in column order.
    public var jsonLine: String {
        let members = zip(Self.columns, values).map { "\(JSONText.quoted($0)):\($1.jsonText)" }
        return "{" + members.joined(separator: ",") + "}\n"
    }
}

/// JSON string literals.
enum JSONText {
    static func quoted(_ text: String) -> String {
        var result = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    result += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    result.unicodeScalars.append(scalar)
                }
            }
        }
        return result + "\""
    }
}

/// Comma-separated values as RFC 4180 writes them: a cell with a comma, quote or line break is quoted, quotes
/// doubled.
public enum CSV {
    /// One line of cells, ending in "\n".
    public static func line(_ cells: [String]) -> String {
        cells.map(quotedIfNeeded).joined(separator: ",") + "\n"
    }

    static func quotedIfNeeded(_ cell: String) -> String {
        guard cell.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return cell }
        return "\"" + cell.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// The records of `text`; a last record without its line break (a write cut short) is left out.
    public static func records(_ text: String) -> [[String]] {
        var records: [[String]] = []
        var record: [String] = []
        var cell = ""
        var quoted = false
        var afterQuote = false
        for character in text {
            if quoted {
                if character == "\"" {
                    quoted = false
                    afterQuote = true
                } else {
                    cell.append(character)
                }
                continue
            }
            switch character {
            case "\"":
                if afterQuote { cell.append("\"") }
                quoted = true
                afterQuote = false
            case ",":
                record.append(cell)
                cell = ""
                afterQuote = false
            case "\n", "\r\n":
                record.append(cell)
                records.append(record)
                record = []
                cell = ""
                afterQuote = false
            default:
                cell.append(character)
                afterQuote = false
            }
        }
        return records
    }
}
