/// Job ids become directory names on the server, so only a safe alphabet is allowed.
public enum JobID {
    public static let maxLength = 128

    /// nil when valid, otherwise why not.
    public static func problem(with id: String) -> String? {
        let bytes = Array(id.utf8)
        if bytes.isEmpty { return "job id is empty" }
        if bytes.count > maxLength { return "job id is longer than \(maxLength) bytes" }
        func allowed(_ b: UInt8) -> Bool {
            (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x2E || b == 0x5F
                || b == 0x2D
        }
        guard bytes.allSatisfy(allowed) else {
            return "job id \"\(id.prefix(40))\" may only use letters, digits, '.', '_' and '-'"
        }
        guard let first = bytes.first, first != 0x2E, first != 0x2D else {
            return "job id must start with a letter, digit or '_'"
        }
        return nil
    }
}

/// Stream names are free text (file paths for `tail`), but bounded and without NUL.
public enum StreamName {
    public static let maxLength = 1024
    /// A job's stream names together, in bytes of UTF-8: with JSON's escapes (up to six bytes for one)
    /// a job's record stays well under the 4 MiB message limit, whatever the names hold.
    public static let maxBytesPerJob = 256 << 10

    public static func problem(with name: String) -> String? {
        if name.isEmpty { return "stream name is empty" }
        if name.utf8.count > maxLength { return "stream name is longer than \(maxLength) bytes" }
        if name.utf8.contains(0) { return "stream name contains a NUL byte" }
        return nil
    }
}
