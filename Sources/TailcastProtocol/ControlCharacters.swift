/// Text that comes from other people (job metadata, stream names, progress labels, error messages) is
/// shown to a terminal and written to log lines. A control character in it could clear the screen,
/// write the clipboard (OSC 52), retitle the window or forge a log line, so every one is shown as
/// visible text instead: `\x1b`, `\n`, `\u009b`. The job's output bytes are not text of this kind:
/// they pass unchanged.
extension StringProtocol {
    /// C0 controls (tab and newline included), DEL and C1 controls (U+0080-U+009F) as escapes; all
    /// else unchanged. Our own line breaks are added after escaping, so only they reach the output.
    public var escapingControlCharacters: String {
        guard self.unicodeScalars.contains(where: isControlCharacter) else { return String(self) }
        var escaped = String.UnicodeScalarView()
        for scalar in self.unicodeScalars {
            guard isControlCharacter(scalar) else {
                escaped.append(scalar)
                continue
            }
            let text: String
            switch scalar.value {
            case 0x09: text = "\\t"
            case 0x0A: text = "\\n"
            case 0x0D: text = "\\r"
            case 0x80...0x9F: text = "\\u00" + hexByte(scalar.value)
            default: text = "\\x" + hexByte(scalar.value)
            }
            escaped.append(contentsOf: text.unicodeScalars)
        }
        return String(escaped)
    }
}

private func isControlCharacter(_ scalar: Unicode.Scalar) -> Bool {
    scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value)
}

private func hexByte(_ value: UInt32) -> String {
    let digits = Array("0123456789abcdef")
    return String([digits[Int(value >> 4)], digits[Int(value & 0xF)]])
}
