import Logging
import Synchronization
import TailcastClient
import TailcastProtocol
import WSClient

/// Asks the server for its jobs over the watch path (`list`), so listing goes through the same
/// token, TLS and proxy as watching.
public enum JobLister {
    /// Every job, oldest first, a page per connection.
    public static func fetch(endpoint: ServerEndpoint, logger: Logger) async throws -> [JobInfo] {
        var jobs: [JobInfo] = []
        var after: String?
        repeat {
            let page = try await self.fetchPage(endpoint: endpoint, after: after, logger: logger)
            jobs += page.jobs
            after = page.next
        } while after != nil
        return jobs
    }

    static func fetchPage(endpoint: ServerEndpoint, after: String?, logger: Logger) async throws -> ControlMessage.JobList {
        let answer = Mutex<Result<ControlMessage.JobList, WatchError>?>(nil)
        do {
            try await endpoint.connect(path: Wire.watchPath, extensions: [], logger: logger) { inbound, outbound, _, answered in
                try await outbound.write(.text(ControlMessage.list(.init(after: after)).encoded()))
                for try await message in inbound.messages(maxSize: Wire.defaultMaxMessageBytes) {
                    answered()
                    guard case .text(let text) = message else { continue }
                    switch try ControlMessage.decode(text) {
                    case .jobs(let list):
                        answer.withLock { $0 = .success(list) }
                        return
                    case .error(let error):
                        answer.withLock { $0 = .failure(.refused(code: error.code, message: error.message)) }
                        return
                    default:
                        continue
                    }
                }
            }
        } catch let refused as ConnectionRefused {
            throw WatchError.refused(code: refused.report.code, message: refused.report.message)
        } catch {
            if answer.withLock({ $0 }) == nil { throw WatchError.unreachable(endpoint.url, ServerEndpoint.describe(error)) }
        }
        switch answer.withLock({ $0 }) {
        case .success(let jobs): return jobs
        case .failure(let error): throw error
        case .none: throw WatchError.unreachable(endpoint.url, "the server closed the connection without answering")
        }
    }
}
