import ArgumentParser
import Foundation
import TailcastAgent

struct ProgressCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "progress",
        abstract: "Report progress from inside a job wrapped by `tailcast run`.",
        discussion: """
            Watchers show it as a live bar, and `tailcast ls` shows its percent and ETA. Explicit progress wins over progress bars recognised in the output. Each --label is its own bar.

            Example, in a training script: tailcast progress 3 --total 10 --unit epochs --label train --message "val loss 0.31"

            Outside `tailcast run` (TAILCAST_PROGRESS unset) it does nothing and says so, so scripts run the same with and without tailcast. Exit status 1 if the values are invalid or the agent cannot be reached.
            """
    )

    @Argument(help: "How far the job is (a number >= 0).")
    var current: Double

    @Option(help: "The value at which the job is done (> 0).")
    var total: Double?

    @Option(help: "Unit of current and total: epochs, files, B (bytes), ...")
    var unit: String?

    @Option(help: "Name of the bar (default: the job's one explicit bar).")
    var label: String?

    @Option(help: "A short status shown beside the bar.")
    var message: String?

    func validate() throws {
        guard self.current.isFinite, self.current >= 0 else { throw ValidationError("current must be a number >= 0") }
        if let total = self.total, !(total.isFinite && total > 0) { throw ValidationError("--total must be a number > 0") }
    }

    func run() throws {
        guard let path = ProcessInfo.processInfo.environment[ProgressSocket.environmentVariable], !path.isEmpty else {
            notice("not inside `tailcast run` (\(ProgressSocket.environmentVariable) is not set); progress not reported")
            return
        }
        let report = ProgressSocket.Report(current: self.current, total: self.total, unit: self.unit, label: self.label, message: self.message)
        do {
            let answer = try ProgressSocket.send(report, to: path)
            guard answer.hasPrefix("ok") else {
                notice(answer.trimmingCharacters(in: .whitespacesAndNewlines))
                throw ExitCode(ExitCodes.failure)
            }
        } catch let error as SpoolError {
            notice(error.description)
            throw ExitCode(ExitCodes.failure)
        }
    }
}
