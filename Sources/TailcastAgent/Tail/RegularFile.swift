#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Opens a file to follow, for reading: never through a symbolic link (`O_NOFOLLOW`), and only a
/// regular file, as the descriptor itself says (`fstat`). The pattern's walk already passed links
/// over with `lstat`; a link (or a FIFO, a device) swapped in at the path between that look and this
/// open is refused here.
enum RegularFile {
    enum Refusal: Error, Equatable {
        /// The path is a symbolic link now.
        case link
        /// Not a regular file, or it could not be opened (gone, no permission).
        case other
    }

    static func open(_ path: String) -> Result<Int32, Refusal> {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOFOLLOW)
        guard fd >= 0 else { return .failure(errno == ELOOP ? .link : .other) }
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else {
            close(fd)
            return .failure(.other)
        }
        return .success(fd)
    }

    /// Where a link points, for a warning; "?" if it cannot be read (gone again).
    static func target(ofLink path: String) -> String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlink(path, &buffer, buffer.count - 1)
        return n < 0 ? "?" : String(decoding: buffer[..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
