import ArgumentParser
import Foundation
import TailcastClient
import TailcastProtocol

struct RemoveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rm",
        abstract: "Delete finished jobs from the server's archive.",
        discussion: """
            Deletes each job's folder on the server (DELETE /v1/jobs/JOB); anyone watching it is told the job was deleted. A running job (an agent connected) is never deleted. A job without an exit status is kept unless --force: one whose agent was lost may still get what the agent spooled (tailcast flush), one whose sidecar stopped (tailcast tail, SIGTERM) may be continued when the sidecar starts again.

            With tokens, deleting takes a publish token, and the one that created the job: a watch token may read jobs, not destroy them. rm speaks HTTP(S) to the server, trusting the system's certificate authorities and --ca, and going through the proxy variables (with --ca it goes straight to the server, and says so if the proxy variables name a proxy for it); --proxy is refused.

            Exit codes: 0 every job deleted; 2 a job does not exist; 4 not allowed; 5 a job is running (or lost or stopped, without --force); 3 server unreachable. With several jobs, each is tried and the exit code is the first failure's.
            """
    )

    @OptionGroup var server: ServerOption

    @Flag(help: "Also delete jobs without an exit status: agent lost, or sidecar stopped.")
    var force = false

    @Argument(help: ArgumentHelp("Jobs to delete.", valueName: "job"))
    var jobs: [String]

    func validate() throws {
        guard !self.jobs.isEmpty else { throw ValidationError("name at least one job") }
        // Refused rather than ignored: a chosen proxy would silently not be used.
        if self.server.proxy != nil {
            throw ValidationError("rm speaks HTTP(S) through the proxy variables: --proxy is not supported by rm yet")
        }
        for job in self.jobs {
            if let problem = JobID.problem(with: job) { throw ValidationError(problem) }
        }
    }

    func run() async throws {
        var failure: Int32?
        for job in self.jobs {
            let code = await self.delete(job)
            if code != 0 && failure == nil { failure = code }
        }
        if let failure { throw ExitCode(failure) }
    }

    /// Deletes one job; its exit code (0 when deleted). Each outcome is one line on stderr.
    private func delete(_ job: String) async -> Int32 {
        let endpoint = self.server.endpoint
        let answer: (status: Int, body: Data)
        do {
            answer = try await endpoint.httpRequest("DELETE", path: "/v1/jobs/\(job)" + (self.force ? "?force=1" : ""), timeout: 30)
        } catch {
            // libcurl's own words for its failures; swift-nio's (with --ca) read as the WebSocket clients say them.
            let reason = error is URLError ? error.localizedDescription : ServerEndpoint.describe(error)
            notice("cannot reach \(endpoint.httpURL): \(reason)")
            return ExitCodes.unreachable
        }
        if answer.status == 200 {
            notice("deleted job \(job)")
            return 0
        }
        notice(ServerEndpoint.reason(in: answer.body) ?? "the server answered \(answer.status)")
        switch answer.status {
        case 404: return ExitCodes.unknownJob
        case 401, 403: return ExitCodes.denied
        case 409: return ExitCodes.jobTaken
        default: return ExitCodes.failure
        }
    }
}
