// SPDX-License-Identifier: Apache-2.0
import ClusterWire
import Testing

/// The byte layout every codec of the stack rests on, pinned byte for byte (the writer and reader are inlined into
/// every layer, so a change of layout would show in no single codec's round trip).
@Suite("ByteWriter and ByteReader layout")
struct ByteCodecTests {
    @Test("integers are big-endian, strings and blobs carry a 32-bit length, and the reader gives them back")
    func layout() throws {
        var w = ByteWriter()
        w.write(UInt8(0xAB))
        w.write(true)
        w.write(UInt16(0x0102))
        w.write(UInt32(0x0304_0506))
        w.write(UInt64(0x0708_090A_0B0C_0D0E))
        w.write(Int32(-2))
        w.write("gé")
        w.writeBlob([9, 8])
        w.write(UInt32(0))
        w.patch(0xDEAD_BEEF, at: w.count - 4)
        let expected: [UInt8] = [0xAB, 1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 0xFF, 0xFF, 0xFF, 0xFE,
                                 0, 0, 0, 3, 0x67, 0xC3, 0xA9, 0, 0, 0, 2, 9, 8, 0xDE, 0xAD, 0xBE, 0xEF]
        #expect(w.bytes == expected)
        var r = ByteReader(w.bytes)
        #expect(try r.readUInt8() == 0xAB)
        #expect(try r.readBool() == true)
        #expect(try r.readUInt16() == 0x0102)
        #expect(try r.readUInt32() == 0x0304_0506)
        #expect(try r.readUInt64() == 0x0708_090A_0B0C_0D0E)
        #expect(try r.readInt32() == -2)
        #expect(try r.readString(limit: 3) == "gé")
        #expect(try r.readBlob(limit: 2) == [9, 8])
        #expect(r.offset == expected.count - 4)
        #expect(try r.readUInt32() == 0xDEAD_BEEF)
        #expect(r.isAtEnd)
        var taken = w
        #expect(taken.take() == expected && taken.count == 0)
        var appended = ByteWriter(appendingTo: [1, 2])
        appended.write(UInt16(3))
        #expect(appended.bytes == [1, 2, 0, 3])
    }

    @Test("strings read back exactly, ASCII (the fast path) or not, from any offset; bad UTF-8 after ASCII is refused")
    func strings() throws {
        let samples = ["", "g", "cpg-bench", String(repeating: "n", count: 128), "a\u{0}b\u{7F}", "gé", "ünï", "日本", "a🙂z"]
        var w = ByteWriter()
        w.write(UInt8(7))  // every string after the first starts at an odd offset
        for s in samples { w.write(s) }
        var r = ByteReader(w.bytes)
        #expect(try r.readUInt8() == 7)
        for s in samples { #expect(try r.readString(limit: 256) == s) }
        #expect(r.isAtEnd)
        for bad: [UInt8] in [[0x61, 0x62, 0x63, 0xC3, 0x28], [0x80], [0x61, 0xFF], [0x61, 0xED, 0xA0, 0x80]] {
            var reader = ByteReader([0, 0, 0, UInt8(bad.count)] + bad)
            #expect(throws: WireError.invalid(field: "name", reason: "not UTF-8")) { try reader.readString("name", limit: 8) }
        }
    }

    @Test("a string that is not UTF-8, too long or truncated is refused with the field named")
    func badStrings() {
        var notUTF8 = ByteReader([0, 0, 0, 2, 0xC3, 0x28])
        #expect(throws: WireError.invalid(field: "name", reason: "not UTF-8")) { try notUTF8.readString("name", limit: 8) }
        var tooLong = ByteReader([0, 0, 0, 9] + [UInt8](repeating: 0x61, count: 9))
        #expect(throws: WireError.tooLong(field: "name", length: 9, limit: 8)) { try tooLong.readString("name", limit: 8) }
        var truncated = ByteReader([0, 0, 0, 4, 0x61])
        #expect(throws: WireError.truncated(field: "name")) { try truncated.readString("name", limit: 8) }
        var short = ByteReader([1, 2, 3])
        #expect(throws: WireError.truncated(field: "u32")) { try short.readUInt32() }
        #expect(short.offset == 0)
    }
}
