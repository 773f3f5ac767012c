import TailcastProtocol

extension Archive {
    /// What job.json holds: the job as watchers see it, and what binds it to its publisher, which
    /// watchers never see.
    struct StoredJob: Codable {
        struct Stream: Codable {
            var name: String
            var file: String
        }
        var info: JobInfo
        var streams: [Stream]
        /// The run that created the job: only a connection of this run may publish into it.
        var runId: String
        /// Who created it: `AccessTokens.identity` of its token ("" on a server without tokens).
        var owner: String

        init(info: JobInfo, streams: [Stream], runId: String, owner: String) {
            self.info = info
            self.streams = streams
            self.runId = runId
            self.owner = owner
        }

        private enum CodingKeys: String, CodingKey {
            case info, streams, runId, owner
        }

        private struct LegacyInfo: Decodable {
            var runId: String
        }

        /// Archives of version 0.1.0 kept `run_id` inside `info` (where every watcher saw it) and had no owner.
        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            self.info = try container.decode(JobInfo.self, forKey: .info)
            self.streams = try container.decode([Stream].self, forKey: .streams)
            self.runId = try container.decodeIfPresent(String.self, forKey: .runId)
                ?? container.decode(LegacyInfo.self, forKey: .info).runId
            self.owner = try container.decodeIfPresent(String.self, forKey: .owner) ?? ""
        }
    }
}
