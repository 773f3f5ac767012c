import ArgumentParser
import Hummingbird
import Logging
import NIOCore
#if canImport(Glibc)
import Glibc
#endif
import TailcastServer

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the server: archive every job's output and relay it live to watchers.",
        discussion: """
            Everything is kept under --data (no external server needed): one folder per job, each stream a plain file that `cat` reads. What the server acknowledges to an agent is on disk (fsync) and survives kill -9. Stop it with Ctrl-C or SIGTERM; it finishes open requests first.
            """
    )

    @Option(help: "Address to listen on.")
    var host = "127.0.0.1"

    @Option(help: "Port to listen on.")
    var port = 7070

    @Option(help: ArgumentHelp("Directory for the archive.", valueName: "dir"))
    var data = "tailcast-data"

    @Option(help: ArgumentHelp("Largest WebSocket message accepted, after decompression, in bytes.", valueName: "bytes"))
    var maxMessageBytes = 4 << 20

    @Option(help: ArgumentHelp("At most one fsync and acknowledgement per agent this often, in milliseconds.", valueName: "ms"))
    var ackIntervalMs = 200

    @Option(help: ArgumentHelp("Log level: trace, debug, info, notice, warning, error, critical.", valueName: "level"))
    var logLevel = "info"

    func validate() throws {
        guard (1...65535).contains(self.port) else { throw ValidationError("--port must be between 1 and 65535") }
        guard Logger.Level(rawValue: self.logLevel) != nil else { throw ValidationError("unknown --log-level \"\(self.logLevel)\"") }
        guard self.maxMessageBytes >= 64 << 10 else { throw ValidationError("--max-message-bytes must be at least 65536") }
        guard (1...10_000).contains(self.ackIntervalMs) else { throw ValidationError("--ack-interval-ms must be between 1 and 10000") }
    }

    func run() async throws {
        var logger = Logger(label: "tailcast.server")
        logger.logLevel = Logger.Level(rawValue: self.logLevel)!
        let configuration = ServerConfiguration(
            host: self.host, port: self.port, dataDirectory: self.data, maxMessageBytes: self.maxMessageBytes,
            ackInterval: .milliseconds(self.ackIntervalMs)
        )
        let app: any ApplicationProtocol
        do {
            app = try TailcastServer.makeApplication(configuration: configuration, logger: logger)
        } catch {
            notice("cannot open the archive at \(self.data): \(error)")
            throw ExitCode(ExitCodes.failure)
        }
        logger.notice("tailcast serving ws://\(self.host):\(self.port), archive in \(self.data)")
        do {
            try await app.runService()
        } catch let error as IOError where error.errnoCode == EADDRINUSE {
            notice("cannot listen on \(self.host):\(self.port): the address is in use (another tailcast serve?); pick another --port")
            throw ExitCode(ExitCodes.failure)
        }
    }
}
