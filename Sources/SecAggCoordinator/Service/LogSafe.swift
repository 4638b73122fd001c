/// Text that came from a peer (a task name, an abort reason), made safe for a log line: control characters
/// (newlines included) are escaped, so a client cannot forge log lines, and it is cut to `limit` characters.
func logSafe(_ text: String, limit: Int = 200) -> String {
    var result = ""
    for scalar in text.unicodeScalars.prefix(limit) {
        if scalar.properties.generalCategory == .control || scalar == "\u{2028}" || scalar == "\u{2029}" {
            result += scalar.escaped(asASCII: true)
        } else {
            result.unicodeScalars.append(scalar)
        }
    }
    return text.unicodeScalars.count > limit ? result + "…" : result
}
