import Testing

@testable import TailcastAgent

@Suite struct UTF8BoundaryTests {
    @Test(arguments: [
        ("ascii", [0x61, 0x62], 2),
        ("empty", [], 0),
        ("é whole", [0x61, 0xC3, 0xA9], 3),
        ("é lead only", [0x61, 0xC3], 1),
        ("中 whole", [0xE4, 0xB8, 0xAD], 3),
        ("中 two of three", [0x61, 0xE4, 0xB8], 1),
        ("中 one of three", [0x61, 0x62, 0xE4], 2),
        ("emoji three of four", [0x61, 0xF0, 0x9F, 0x98], 1),
        ("emoji whole", [0xF0, 0x9F, 0x98, 0x80], 4),
        ("not UTF-8: stray continuations", [0x61, 0x80, 0x80, 0x80], 4),
        ("not UTF-8: 0xFF", [0x61, 0xFF], 2),
        ("a newline ends it", [0xE4, 0xB8, 0x0A], 3),
    ] as [(String, [UInt8], Int)])
    func aCutNeverLeavesACharacterInHalves(name: String, bytes: [UInt8], expected: Int) {
        #expect(UTF8Boundary.completePrefixLength(bytes) == expected, "\(name)")
    }

    @Test func slicesCountFromTheirOwnStart() {
        let bytes: [UInt8] = [0x78, 0x78, 0x61, 0xE4, 0xB8]
        #expect(UTF8Boundary.completePrefixLength(bytes[2...]) == 1)
    }
}
