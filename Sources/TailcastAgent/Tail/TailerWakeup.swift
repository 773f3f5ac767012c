#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CTailcastSystem
import Synchronization

/// Wakes the tailer's thread from its wait (for file events, or for its next poll) when the spool has
/// room again. While the server has not acknowledged `maxUnacknowledged` bytes the files are the buffer
/// and nothing is read; without this the tailer read on only at its next reconcile. strace of a sidecar
/// following a 200 MB file written at once: waits of 0.35 s and 1.0 s with room in the spool, and 77 MB/s
/// to the watcher where `run` of the same file reached 105.
final class TailerWakeup: Sendable {
    /// A pipe: its read end is polled with the events, its write end woken from any thread.
    private let readEnd: Int32
    private let writeEnd: Int32
    /// Set while the tailer waits for room in the spool: only then does a release wake it.
    private let waitingForRoom = Atomic<Bool>(false)

    /// nil if no pipe could be made: the tailer then reads on at its next look, as before.
    init?() {
        var fds: [Int32] = [-1, -1]
        guard tailcast_pipe_cloexec(&fds) == 0 else { return nil }
        for fd in fds { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
        (self.readEnd, self.writeEnd) = (fds[0], fds[1])
    }

    deinit {
        close(self.readEnd)
        close(self.writeEnd)
    }

    /// The descriptor to poll: readable once woken.
    var fd: Int32 { self.readEnd }

    /// The tailer stopped reading for want of room in the spool (`true`), or reads again (`false`).
    func setWaitingForRoom(_ waiting: Bool) { self.waitingForRoom.store(waiting, ordering: .sequentiallyConsistent) }

    /// The spool released bytes: wakes the tailer if it waits for room.
    func spoolReleased() {
        guard self.waitingForRoom.exchange(false, ordering: .sequentiallyConsistent) else { return }
        self.wake()
    }

    /// Ends the tailer's wait now (it is told to stop, or has room). A full pipe means a wake-up is
    /// pending already.
    func wake() {
        var byte: UInt8 = 1
        _ = write(self.writeEnd, &byte, 1)
    }

    /// Takes the pending wake-ups, so the next wait waits.
    func drain() {
        var bytes = [UInt8](repeating: 0, count: 64)
        while bytes.withUnsafeMutableBytes({ read(self.readEnd, $0.baseAddress!, $0.count) }) > 0 {}
    }

    /// Sleeps up to `timeout`, less if woken (the tailer without inotify).
    func sleep(_ timeout: Duration) {
        var descriptor = pollfd(fd: self.readEnd, events: Int16(POLLIN), revents: 0)
        if poll(&descriptor, 1, FileEvents.milliseconds(timeout)) > 0 { self.drain() }
    }
}
