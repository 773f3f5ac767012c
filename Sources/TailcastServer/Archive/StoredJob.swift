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
        /// The shared store's number for this run of the id, greater for every later run (`run --replace`, or
        /// a new job after a delete); 0 in the embedded mode and in records stored before schema version 3.
        /// A node may read a job's record just before another node replaces it and adopt it just after: the
        /// generation tells that stale record from the newer one.
        var generation: UInt64

        init(info: JobInfo, streams: [Stream], runId: String, owner: String, generation: UInt64 = 0) {
            self.info = info
            self.streams = streams
            self.runId = runId
            self.owner = owner
            self.generation = generation
        }

        private enum CodingKeys: String, CodingKey {
            case info, streams, runId, owner, generation
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
            // Records written before generations were counted are the first run's.
            self.generation = try container.decodeIfPresent(UInt64.self, forKey: .generation) ?? 0
        }
    }
}
