import NIOCore
import Synchronization

/// The archive's bounded set of open stream files (`OpenFilePolicy` decides, this closes). A stream
/// file checks itself out around every read, write and sync, and opens its descriptors lazily; the
/// files this closes drop their descriptors and time marks, and reopen at their next use.
final class OpenFiles: Sendable {
    private struct State {
        var policy: OpenFilePolicy<ObjectIdentifier>
        /// The files counted as open, kept alive while they are.
        var files: [ObjectIdentifier: StreamFile] = [:]
        /// Members of compressed streams inflated last, newest last.
        var inflated: [(file: ObjectIdentifier, member: Int, bytes: ByteBuffer)] = []
    }

    /// Inflated members kept, all streams together: 8 MiB at most whatever the archive holds.
    static let inflatedMembers = 8

    /// Most descriptors the archive holds at once, outside the moments when every open file is in use.
    let maxDescriptors: Int
    private let state: Mutex<State>

    init(maxDescriptors: Int) {
        self.maxDescriptors = maxDescriptors
        let streams = max(1, maxDescriptors / StreamFile.descriptorsPerStream)
        self.state = Mutex(State(policy: OpenFilePolicy(capacity: streams)))
    }

    func checkOut(_ file: StreamFile) {
        self.state.withLock { state in
            let key = ObjectIdentifier(file)
            state.files[key] = file
            Self.perform(state.policy.checkOut(key), on: &state)
        }
    }

    func checkIn(_ file: StreamFile) {
        self.state.withLock { state in
            // Read under this lock, so the last check-in decides with the file's latest state.
            let pinned = file.hasUnsyncedBytes
            Self.perform(state.policy.checkIn(ObjectIdentifier(file), pinned: pinned), on: &state)
        }
    }

    /// `file` is gone: its descriptors close as soon as no caller uses them.
    func forget(_ file: StreamFile) {
        self.state.withLock { state in
            Self.perform(state.policy.forget(ObjectIdentifier(file)), on: &state)
        }
    }

    func inflated(_ file: StreamFile, member: Int) -> ByteBuffer? {
        let key = ObjectIdentifier(file)
        return self.state.withLock { $0.inflated.last { $0.file == key && $0.member == member }?.bytes }
    }

    func keepInflated(_ file: StreamFile, member: Int, _ bytes: ByteBuffer) {
        self.state.withLock { state in
            state.inflated.append((ObjectIdentifier(file), member, bytes))
            if state.inflated.count > Self.inflatedMembers { state.inflated.removeFirst() }
        }
    }

    var openCount: Int { self.state.withLock { $0.policy.openCount } }

    /// Closing here, under the lock, means no caller can check a victim out again until it is closed.
    private static func perform(_ action: OpenFilePolicy<ObjectIdentifier>.Action, on state: inout State) {
        guard case .close(let victims) = action else { return }
        for key in victims {
            state.files.removeValue(forKey: key)?.closeDescriptors()
            // An identifier can be reused by a new file once this one is freed: its members must not be found.
            state.inflated.removeAll { $0.file == key }
        }
    }
}
