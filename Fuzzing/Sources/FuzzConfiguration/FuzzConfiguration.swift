// Fuzzes the daemon's configuration parser (YAML → settings, with every check `--check-config` makes).
// Property: no trap; a bad file is an error that explains itself.
import Foundation
import SecAggCoordinator

private let folder = URL(fileURLWithPath: NSTemporaryDirectory(), isDirectory: true)

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    do {
        _ = try ConfigurationFile.parse(text, relativeTo: folder)
    } catch {
        guard !"\(error)".isEmpty else { fatalError("an error without a message") }
    }
    return 0
}
