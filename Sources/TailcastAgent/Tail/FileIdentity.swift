#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Which file this is, whatever its path: device and inode, plus the first bytes, because inodes are
/// reused after a delete (Filebeat's lesson). Files shorter than the fingerprint count by what they have.
public struct FileIdentity: Codable, Hashable, Sendable {
    public static let fingerprintLength = 1024

    public var device: UInt64
    public var inode: UInt64
    /// Up to the first 1 KiB, hex.
    public var fingerprint: String

    /// The fingerprint has its whole 1 KiB: strong enough to recognise the file's content elsewhere.
    public var isFull: Bool { self.fingerprint.utf8.count == 2 * Self.fingerprintLength }

    /// The same file, seen later: same inode, and what it held then is still its start.
    public func continues(_ earlier: FileIdentity) -> Bool {
        self.device == earlier.device && self.inode == earlier.inode && Self.fingerprint(self.fingerprint, startsWith: earlier.fingerprint)
    }

    /// Compared with memcmp: `String.hasPrefix` compares by Unicode rules and a generic `starts(with:)`
    /// byte by byte; on 2 KiB of hex per read either was the tailer's largest cost.
    static func fingerprint(_ fingerprint: String, startsWith prefix: String) -> Bool {
        var fingerprint = fingerprint
        var prefix = prefix
        return fingerprint.withUTF8 { whole in
            prefix.withUTF8 { start in
                start.count == 0 || (start.count <= whole.count && memcmp(whole.baseAddress!, start.baseAddress!, start.count) == 0)
            }
        }
    }

    static func of(fd: Int32) -> FileIdentity? {
        var st = stat()
        guard fstat(fd, &st) == 0 else { return nil }
        var head = [UInt8](repeating: 0, count: fingerprintLength)
        let n = pread(fd, &head, head.count, 0)
        guard n >= 0 else { return nil }
        // Taken on every read of a file: hex through one buffer, not a string per byte.
        let digits = Array("0123456789abcdef".utf8)
        var hex = [UInt8](repeating: 0, count: 2 * n)
        for index in 0..<n {
            hex[2 * index] = digits[Int(head[index] >> 4)]
            hex[2 * index + 1] = digits[Int(head[index] & 15)]
        }
        return FileIdentity(device: UInt64(st.st_dev), inode: UInt64(st.st_ino), fingerprint: String(decoding: hex, as: UTF8.self))
    }
}
