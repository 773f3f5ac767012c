#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A file of tokens, read by the server (`--tokens-file`) and by clients (`--token-file`). One that
/// its group or others may read or write is refused, as ssh refuses such a private key: whoever can
/// read it can publish or read every job, and whoever can write it can let themselves in. The mode is
/// checked on the descriptor that is read, so a file swapped in between cannot slip through.
public enum SecretFile {
    public static let maxBytes = 1 << 20

    public enum Problem: Error, CustomStringConvertible, Equatable {
        case unreadable(path: String, reason: String)
        case tooOpen(path: String, mode: UInt32)

        public var description: String {
            switch self {
            case .unreadable(let path, let reason): "cannot read \(path): \(reason)"
            case .tooOpen(let path, let mode):
                "permissions \(String(mode, radix: 8).leftPadded(to: 4)) of \(path) are too open: it holds tokens, so only its owner may read it (chmod 600 \(path))"
            }
        }
    }

    /// The file's text, if only its owner may read or write it.
    public static func read(_ path: String) throws(Problem) -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .unreadable(path: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw .unreadable(path: path, reason: String(cString: strerror(errno))) }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw .unreadable(path: path, reason: "not a regular file") }
        guard st.st_mode & 0o077 == 0 else { throw .tooOpen(path: path, mode: UInt32(st.st_mode & 0o7777)) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 64 << 10)
        while true {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { throw .unreadable(path: path, reason: String(cString: strerror(errno))) }
            if n == 0 { break }
            bytes += buffer[..<n]
            guard bytes.count <= Self.maxBytes else { throw .unreadable(path: path, reason: "larger than \(Self.maxBytes) bytes") }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

extension String {
    fileprivate func leftPadded(to length: Int) -> String {
        String(repeating: "0", count: max(0, length - self.count)) + self
    }
}
