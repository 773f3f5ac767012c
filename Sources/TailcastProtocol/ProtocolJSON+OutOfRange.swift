import Foundation

extension ProtocolJSON {
    /// Foundation's decoder reports a number its member's type cannot hold (2^32 for a stream id, -1 for an
    /// offset, 1.5 for a count) as "the given data was not valid JSON", without a path. This finds the
    /// member: the text is read as plain JSON, and the message is decoded again with each suspicious number
    /// (negative, fractional, or from 2^31 on) set to 0, until it decodes past that number. Only small
    /// messages are probed (control messages are), at most `maxProbes` times.
    static func outOfRangeMember<T: Decodable>(_: T.Type, in data: Data) -> String? {
        guard data.count <= 64 << 10, let tree = try? JSONSerialization.jsonObject(with: data) else { return nil }
        let decoder = self.makeDecoder()
        for path in self.suspiciousNumbers(in: tree, at: []).prefix(self.maxProbes) {
            guard let probe = try? JSONSerialization.data(withJSONObject: self.replacing(path, in: tree, with: 0)) else { continue }
            do {
                _ = try decoder.decode(T.self, from: probe)
                return self.wirePath(path)
            } catch DecodingError.dataCorrupted(let context) where context.codingPath.isEmpty {
                continue
            } catch {
                return self.wirePath(path)
            }
        }
        return nil
    }

    static let maxProbes = 16

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
