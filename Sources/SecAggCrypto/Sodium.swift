import CSodium

/// One-time libsodium initialisation.
///
/// `sodium_init()` is idempotent and thread-safe; every entry point of this module that calls into
/// libsodium first touches `Sodium.ready`, whose lazy global initialiser runs it exactly once.
enum Sodium {
    /// Evaluates to `true` once libsodium is initialised.
    ///
    /// A failure of `sodium_init` means the process has no usable CSPRNG: continuing would be unsafe,
    /// so it stops the process (the module's only trap on a runtime condition; its other traps are
    /// preconditions on programmer errors such as a malformed KDF label).
    static let ready: Bool = {
        guard sodium_init() >= 0 else {
            fatalError("libsodium failed to initialise: no secure randomness is available")
        }
        return true
    }()

    /// Call at the top of every function that uses libsodium.
    @inline(__always)
    static func initialize() {
        _ = ready
    }
}
