import ArgumentParser

/// `--flush-window-ms`, shared by `run` and `tail`: how long lines are batched while they keep coming.
struct FlushWindowOption: ParsableArguments {
    @Option(name: .customLong("flush-window-ms"), help: ArgumentHelp(
        "While lines keep coming, at most one message per this many milliseconds (0-1000): larger batches compress better. A line after a quiet spell goes at once. 0 sends each line as soon as the previous message is written: lowest latency, about half the compression.",
        valueName: "ms"))
    var milliseconds = 20

    var window: Duration { .milliseconds(self.milliseconds) }

    func validate() throws {
        guard (0...1000).contains(self.milliseconds) else { throw ValidationError("--flush-window-ms must be between 0 and 1000") }
    }
}
