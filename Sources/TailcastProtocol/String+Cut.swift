extension String {
    /// This text if it fits in `limit` bytes of UTF-8, else its longest prefix of whole characters that
    /// fits with "…" after it: how agents make their fields fit the server's bounds.
    func cut(toUTF8Bytes limit: Int) -> String {
        guard self.utf8.count > limit else { return self }
        var result = ""
        var used = 0
        for character in self {
            let size = character.utf8.count
            if used + size > limit - 3 { break }
            result.append(character)
            used += size
        }
        return result + "…"
    }
}
