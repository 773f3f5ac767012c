import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import TailcastProtocol

/// Reads the job list from the server's HTTP API (`GET /v1/jobs`).
public enum JobLister {
    struct JobList: Decodable {
        var jobs: [JobInfo]
    }

    public static func fetch(server: String) async throws -> [JobInfo] {
        let base = server.replacingOccurrences(of: "ws://", with: "http://").replacingOccurrences(of: "wss://", with: "https://")
        guard let url = URL(string: base + "/v1/jobs") else { throw WatchError.unreachable(server, "not a valid URL") }
        let data: Data
        let response: URLResponse
        do {
            (data, response) = try await URLSession.shared.data(from: url)
        } catch {
            throw WatchError.unreachable(server, error.localizedDescription)
        }
        guard let http = response as? HTTPURLResponse, http.statusCode == 200 else {
            throw WatchError.unreachable(server, "unexpected answer from \(url)")
        }
        return try ProtocolJSON.decode(JobList.self, from: data).jobs
    }
}
