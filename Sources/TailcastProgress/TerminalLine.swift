/// A finished line of visible text, escape sequences removed, that may hold progress.
struct TerminalLine: Sendable {
    var bytes: [UInt8]
    /// Rows below the top of the multi-row display the line was drawn in; 0 when the output moves the cursor up never
    /// or not lately. Tells apart unnamed bars that tqdm (`position=`) or rich draw on separate rows.
    var depth: Int
}
