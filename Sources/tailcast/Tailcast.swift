import ArgumentParser
import TailcastProtocol

@main
struct Tailcast: AsyncParsableCommand {
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "tailcast",
        abstract: "Watch long-running jobs live from anywhere, and keep their logs.",
        discussion: """
            Wrap a job with `tailcast run`, watch it from another terminal with `tailcast watch JOB`, list jobs with `tailcast ls`. `tailcast serve` archives every stream and relays it live.

            Exit codes: 0 success; `run` and `watch` exit with the job's status (128+N when it was killed by signal N); 1 error; 2 unknown job; 3 server unreachable; 4 not allowed (missing, unknown or insufficient token, or a web origin the server does not serve); 5 the job id is taken (another run or another token created it, or it has ended); 6 `serve`: another server uses the --data archive; 7 `serve --store`: the database's schema is newer than this tailcast (3: the store is unreachable); 64 bad usage. `run`, `tail` and `flush` exit with 1, 4 or 5 when the server refused their output, even if the job itself succeeded.
            """,
        version: version,
        subcommands: [ServeCommand.self, RunCommand.self, TailCommand.self, WatchCommand.self, ListCommand.self, RemoveCommand.self, ProgressCommand.self, FlushCommand.self]
    )

    static func main() async {
        await self.main(WaitOption.expandingBare(Array(CommandLine.arguments.dropFirst())))
    }
}

/// Exit codes shared by every subcommand (documented in the root help).
enum ExitCodes {
    static let failure: Int32 = 1
    static let unknownJob: Int32 = 2
    static let unreachable: Int32 = 3
    static let denied: Int32 = 4
    static let jobTaken: Int32 = 5
    /// `serve`: another server has the `--data` archive open.
    static let archiveInUse: Int32 = 6
    /// `serve --store`: the database's schema is newer than this tailcast.
    static let storeSchemaNewer: Int32 = 7

    /// The exit code for a server's `error` code.
    static func forRefusal(_ code: ErrorCode) -> Int32 {
        switch code {
        case .unknownJob, .unknownStream: unknownJob
        case .unauthorized, .forbidden: denied
        case .jobConflict, .jobEnded: jobTaken
        default: failure
        }
    }
}
