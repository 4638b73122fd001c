@testable import SecAggCoordinator
import SecAggTesting
import Testing

/// Peer-supplied text cannot forge log lines or flood them.
@Suite("Log-safe peer text")
struct LogSafeTests {
    @Test("control characters are escaped and long text is cut")
    func escapesAndCuts() {
        #expect(logSafe("task\ninfo secaggd: forged") == "task\\ninfo secaggd: forged")
        #expect(logSafe("a\u{1B}[31mred\r") == "a\\u{1B}[31mred\\r")
        #expect(logSafe("plain histogram") == "plain histogram")
        #expect(logSafe(String(repeating: "x", count: 300)).count == 201)
    }
}
