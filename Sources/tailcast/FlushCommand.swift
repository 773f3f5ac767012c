import ArgumentParser
import Foundation
import Logging
import TailcastAgent
import TailcastProtocol
import TailcastUplink

struct FlushCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "flush",
        abstract: "Deliver output that earlier `tailcast run`s left in their spools.",
        discussion: """
            A `tailcast run` that was killed (kill -9, a crash, a reboot) or gave up waiting for the server leaves its job's undelivered output in its spool. flush sends each such spool to the server, from where the server's copy ends, and removes it once the server holds everything. Spools of runs that are still going are left alone.

            A job whose agent died has no exit status: the server shows it as "agent lost". When the agent died, its job usually ended too (it loses its terminal or its pipes, as with a dropped ssh session); output written after that was never read.

            A spool the server refuses (its job id belongs to another run or token, the job has ended, the token may not publish) is kept and reported; with --discard it is deleted instead: its output is then lost for good.

            Exit codes: 0 everything delivered, or discarded with --discard (or nothing to do); 3 the server could not be reached or did not take everything in --wait seconds; 4 or 5 the server refused a spool (see `tailcast --help`) and --discard was not given; 1 other errors.
            """
    )

    @OptionGroup var server: ServerOption

    @Option(help: ArgumentHelp("Spool directory to look in (env TAILCAST_SPOOL; default as for run).", valueName: "dir"))
    var spoolDir: String?

    @Option(help: ArgumentHelp("Seconds to wait for each spool's delivery.", valueName: "seconds"))
    var wait: Double = 60

    @Flag(help: "Delete spools the server refuses instead of keeping them (their output is lost).")
    var discard = false

    func run() async throws {
        let root = self.spoolDir ?? ProcessInfo.processInfo.environment["TAILCAST_SPOOL"] ?? RunCommand.defaultSpoolRoot()
        let entries = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).sorted()
        var undelivered = 0
        var refusedWith: ErrorCode?
        var found = 0
        for entry in entries where FileManager.default.fileExists(atPath: "\(root)/\(entry)/spool.bin") {
            let spool: Spool
            do {
                spool = try Spool(reopening: "\(root)/\(entry)")
            } catch let error as SpoolError where error.isBusy {
                continue
            } catch {
                notice("\(error)")
                undelivered += 1
                continue
            }
            found += 1
            let job = spool.manifest.hello.job
            switch try await self.deliver(spool) {
            case .delivered:
                let ending = spool.exit.map { "exit status: \($0.0.description)" } ?? "no exit status: the job shows as agent lost"
                notice("delivered job \(job) (\(ending))")
                spool.remove()
            case .refused(let why) where self.discard:
                notice("job \(job): refused (\(why.message)); discarded \(spool.directory)")
                spool.remove()
            case .refused(let why):
                notice("job \(job): refused (\(why.message)); kept in \(spool.directory) (--discard deletes it)")
                refusedWith = why.code
            case .cancelled:
                notice("job \(job): the server did not take everything within \(Int(self.wait))s; kept in \(spool.directory)")
                undelivered += 1
            }
        }
        if found == 0 && undelivered == 0 && refusedWith == nil { notice("nothing to deliver in \(root)") }
        if let refusedWith { throw ExitCode(ExitCodes.forRefusal(refusedWith)) }
        if undelivered > 0 { throw ExitCode(ExitCodes.unreachable) }
    }

    /// Runs an uplink for the spool until the server holds all of it (and the end, when there is one).
    private func deliver(_ spool: Spool) async throws -> Uplink.Outcome {
        var logger = Logger(label: "tailcast.flush")
        logger.logLevel = .warning
        let uplink = Uplink(configuration: .init(endpoint: self.server.endpoint), spool: spool, progress: nil, logger: logger) { _ in }
        let delivery = Task { await uplink.run() }
        // Without an exit status there is no end to acknowledge: done when every byte is.
        let bytesDone = Task {
            while !Task.isCancelled {
                try await Task.sleep(for: .milliseconds(100))
                if spool.exit == nil && uplink.pendingBytes == 0 && uplink.hasConnected {
                    delivery.cancel()
                    return
                }
            }
        }
        defer { bytesDone.cancel() }
        let outcome = await RunCommand.waitFor(delivery, seconds: self.wait)
        if case .refused = outcome { return outcome }
        return spool.exit == nil && uplink.pendingBytes == 0 && uplink.hasConnected ? .delivered : outcome
    }
}
