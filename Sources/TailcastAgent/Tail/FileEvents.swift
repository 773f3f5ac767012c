#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CTailcastSystem

/// Tells the tailer which files changed, from inotify, so it reads them at once and leaves the others
/// alone; between events it sleeps. Directories are watched rather than files: one watch covers every
/// file in it, and creations and renames (rotation) show there. What inotify cannot promise (a full
/// queue, a file system that sends no events, no watches left) the tailer covers with its periodic
/// reconcile scan and, for silent directories, polling.
final class FileEvents {
    /// What happened since the last `wait`.
    struct Changes: Equatable {
        /// Files (directory + "/" + name) written, created or renamed.
        var paths: Set<String> = []
        /// Directories whose entries changed (a file created, renamed or deleted): time to scan.
        var directories: Set<String> = []
        /// Events were lost (queue overflow): everything must be looked at.
        var overflowed = false
    }

    private let fd: Int32
    private var watches: [String: Int32] = [:]
    private var directoryOf: [Int32: String] = [:]
    private var buffer = [UInt8](repeating: 0, count: 64 << 10)
    /// The kernel refused a watch for lack of them: the directories it would have covered are polled.
    private(set) var outOfWatches = false

    /// nil where inotify is not available (not Linux, or refused).
    init?() {
        let fd = tailcast_inotify_open()
        guard fd >= 0 else { return nil }
        self.fd = fd
    }

    deinit { close(self.fd) }

    var watchedDirectories: Set<String> { Set(self.watches.keys) }

    /// Watches exactly `directories`: new ones are added, ones no longer needed removed. Returns the
    /// directories it could not watch (gone, or no watches left).
    @discardableResult
    func watch(_ directories: Set<String>) -> Set<String> {
        for (directory, watch) in self.watches where !directories.contains(directory) {
            _ = tailcast_inotify_unwatch(self.fd, watch)
            self.watches[directory] = nil
            self.directoryOf[watch] = nil
        }
        var failed = Set<String>()
        for directory in directories where self.watches[directory] == nil {
            let watch = tailcast_inotify_watch_directory(self.fd, directory)
            if watch < 0 {
                if errno == ENOSPC { self.outOfWatches = true }
                failed.insert(directory)
                continue
            }
            self.watches[directory] = watch
            self.directoryOf[watch] = directory
        }
        return failed
    }

    /// Waits up to `timeout` for events, then returns all that came (possibly none).
    /// `wakeup` ends the wait early too (with no changes).
    func wait(timeout: Duration, wakeup: TailerWakeup? = nil) -> Changes {
        var descriptors = [pollfd(fd: self.fd, events: Int16(POLLIN), revents: 0)]
        if let wakeup { descriptors.append(pollfd(fd: wakeup.fd, events: Int16(POLLIN), revents: 0)) }
        guard poll(&descriptors, nfds_t(descriptors.count), Self.milliseconds(timeout)) > 0 else { return Changes() }
        if descriptors.count > 1, descriptors[1].revents != 0 { wakeup?.drain() }
        guard descriptors[0].revents != 0 else { return Changes() }
        var changes = Changes()
        while true {
            let count = self.buffer.withUnsafeMutableBytes { read(self.fd, $0.baseAddress!, $0.count) }
            guard count > 0 else { break }
            Self.parse(self.buffer[0..<count], directoryOf: self.directoryOf, into: &changes)
        }
        // A watch the kernel dropped (its directory went away) is forgotten; the next scan decides.
        for (watch, directory) in self.directoryOf where changes.directories.contains(directory) && !Self.exists(directory) {
            self.directoryOf[watch] = nil
            self.watches[directory] = nil
        }
        return changes
    }

    /// `poll`'s timeout: whole milliseconds, none below zero.
    static func milliseconds(_ duration: Duration) -> Int32 {
        max(0, Int32(clamping: duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000))
    }

    /// Reads `struct inotify_event` records: wd, mask, cookie, len (each 32 bits), then a NUL-padded name.
    static func parse(_ bytes: ArraySlice<UInt8>, directoryOf: [Int32: String], into changes: inout Changes) {
        var index = bytes.startIndex
        func uint32(at offset: Int) -> UInt32 {
            bytes[offset..<offset + 4].reversed().reduce(0) { $0 << 8 | UInt32($1) }
        }
        while index + 16 <= bytes.endIndex {
            let watch = Int32(bitPattern: uint32(at: index))
            let mask = uint32(at: index + 4)
            let length = Int(uint32(at: index + 12))
            let nameBytes = bytes[(index + 16)..<min(bytes.endIndex, index + 16 + length)].prefix { $0 != 0 }
            index += 16 + length
            if mask & tailcast_inotify_overflow_mask() != 0 {
                changes.overflowed = true
                continue
            }
            guard let directory = directoryOf[watch] else { continue }
            if mask & tailcast_inotify_structural_mask() != 0 { changes.directories.insert(directory) }
            if !nameBytes.isEmpty {
                let name = String(decoding: nameBytes, as: UTF8.self)
                changes.paths.insert(directory == "/" ? "/" + name : directory + "/" + name)
            }
        }
    }

    private static func exists(_ directory: String) -> Bool {
        var st = stat()
        return stat(directory, &st) == 0
    }
}
