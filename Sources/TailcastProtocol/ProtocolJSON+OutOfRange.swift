import Foundation

extension ProtocolJSON {
    /// Foundation's decoder reports a number its member's type cannot hold (2^32 for a stream id, -1 for an
    /// offset, 1.5 for a count) as "the given data was not valid JSON", without a path. This finds the
    /// member: the text is read as plain JSON, and the message is decoded again with suspicious numbers
    /// (negative, fractional, or from 2^31 on) set to 0. Replacing more of them can only let more of the
    /// message decode, so a binary search over them finds one the decoder refuses in about log2(n) probes;
    /// real timestamps (every one from 2^31 on) no longer use up a fixed number of tries. Messages above
    /// `maxProbedBytes` are not probed: each probe decodes the whole message again.
    static func outOfRangeMember<T: Decodable>(_: T.Type, in data: Data) -> String? {
        guard data.count <= self.maxProbedBytes, let tree = try? JSONSerialization.jsonObject(with: data) else { return nil }
        let decoder = self.makeDecoder()
        let suspicious = self.suspiciousNumbers(in: tree, at: [])
        func decodes(replacingFirst count: Int) -> Bool {
            let probe = suspicious.prefix(count).reduce(tree) { self.replacing($1, in: $0, with: 0) }
            guard let data = try? JSONSerialization.data(withJSONObject: probe) else { return false }
            do {
                _ = try decoder.decode(T.self, from: data)
                return true
            } catch DecodingError.dataCorrupted(let context) where context.codingPath.isEmpty {
                return false
            } catch {
                // Past every refused number: what fails now is something else (a missing member).
                return true
            }
        }
        guard !suspicious.isEmpty, decodes(replacingFirst: suspicious.count) else { return nil }
        // The fewest leading numbers whose replacement lets the message decode: the last of them is refused.
        var low = 0, high = suspicious.count
        while low + 1 < high {
            let middle = (low + high) / 2
            if decodes(replacingFirst: middle) { high = middle } else { low = middle }
        }
        return self.wirePath(suspicious[high - 1])
    }

    static let maxProbedBytes = 1 << 20

    private struct Key: CodingKey {
        var stringValue: String
        var intValue: Int?
        init(stringValue: String) { self.stringValue = stringValue }
        init(intValue: Int) {
            self.stringValue = "\(intValue)"
            self.intValue = intValue
        }
    }

    private static func suspiciousNumbers(in value: Any, at path: [any CodingKey]) -> [[any CodingKey]] {
        switch value {
        case let object as [String: Any]:
            return object.keys.sorted().flatMap { self.suspiciousNumbers(in: object[$0]!, at: path + [Key(stringValue: $0)]) }
        case let array as [Any]:
            return array.enumerated().flatMap { self.suspiciousNumbers(in: $1, at: path + [Key(intValue: $0)]) }
        case let number as NSNumber where !(value is String):
            let double = number.doubleValue
            return double < 0 || double != double.rounded() || double >= 2_147_483_648 ? [path] : []
        default:
            return []
        }
    }

    private static func replacing(_ path: ArraySlice<any CodingKey>, in value: Any, with replacement: Any) -> Any {
        guard let key = path.first else { return replacement }
        if var object = value as? [String: Any], let inner = object[key.stringValue] {
            object[key.stringValue] = self.replacing(path.dropFirst(), in: inner, with: replacement)
            return object
        }
        if var array = value as? [Any], let index = key.intValue, array.indices.contains(index) {
            array[index] = self.replacing(path.dropFirst(), in: array[index], with: replacement)
            return array
        }
        return value
    }

    private static func replacing(_ path: [any CodingKey], in value: Any, with replacement: Any) -> Any {
        self.replacing(path[...], in: value, with: replacement)
    }
}
