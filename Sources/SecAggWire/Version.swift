/// The release of secagg this build is, shared by `secagg --version`, `secaggd --version` and the C library's
/// `secagg_version()`, with the wire protocol version it speaks.
public enum SecAggVersion {
    /// MAJOR.MINOR.PATCH of this release.
    public static let release: StaticString = "0.2.0"

    /// One line for `--version`: the release and the protocol version.
    public static var summary: String { "\(release) (wire protocol \(WireLimits.protocolVersion))" }
}
