import SecAggYAMLSchema

/// The keys the `secaggd` configuration accepts, section by section, taken from the decoders' own coding keys so
/// the two cannot drift apart. Any other key is a problem naming its line (and the nearest known key): a misspelt
/// setting must stop the daemon, never be ignored (a `privcy:` section would otherwise run a task without noise).
/// The machinery is ``YAMLKeySchema`` (module SecAggYAMLSchema), shared with `secagg experiment` files.
typealias ConfigurationSchema = YAMLKeySchema

extension YAMLKeySchema {
    typealias Document = ConfigurationFile.Document

    /// One task, as under `tasks:` or given to `secagg admin task create`.
    public static let task = keys(Document.Task.CodingKeys.self, nested: [
        "timeouts": keys(Document.Timeouts.CodingKeys.self),
        "privacy": keys(Document.Privacy.CodingKeys.self),
        "encoder": keys(Document.Encoder.CodingKeys.self),
    ])

    /// The whole configuration file: the coordinator's sections and the daemon's operations sections.
    static let file = keys(Document.CodingKeys.self, nested: [
        "listen": keys(Document.Listen.CodingKeys.self),
        "enrollment": keys(Document.Enrollment.CodingKeys.self),
        "limits": keys(Document.Limits.CodingKeys.self),
        "store": keys(Document.Store.CodingKeys.self),
        "admin": keys(Document.Admin.CodingKeys.self),
        "tasks": .list(task),
    ]).adding([
        "audit": keys(DaemonConfiguration.Operations.Audit.CodingKeys.self),
        "metrics": keys(DaemonConfiguration.Operations.Metrics.CodingKeys.self),
    ])
}
