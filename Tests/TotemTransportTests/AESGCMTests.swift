// SPDX-License-Identifier: Apache-2.0
import ClusterTypes
import Crypto
import Foundation
import Testing
@testable import TotemTransport

/// The kept-context AES-256-GCM (OpenSSL) that seals totem packets: standard output, and packets that earlier builds
/// sealed with swift-crypto still open (and the reverse), so nodes of both builds form one ring.
@Suite("AES-GCM")
struct AESGCMTests {
    static func hex(_ s: String) -> [UInt8] {
        var out: [UInt8] = []
        var i = s.startIndex
        while i < s.endIndex {
            let j = s.index(i, offsetBy: 2)
            out.append(UInt8(s[i..<j], radix: 16)!)
            i = j
        }
        return out
    }

    static func seal(_ gcm: AESGCM, nonce: [UInt8], aad: [UInt8], _ plain: [UInt8]) -> (ciphertext: [UInt8], tag: [UInt8]) {
        var ciphertext = [UInt8](repeating: 0, count: plain.count + 1), tag = [UInt8](repeating: 0, count: 16)
        nonce.withUnsafeBytes { n in aad.withUnsafeBytes { a in plain.withUnsafeBytes { p in
            ciphertext.withUnsafeMutableBytes { c in tag.withUnsafeMutableBytes { t in
                gcm.seal(nonce: n, aad: a, plaintext: p, ciphertext: c.baseAddress!, tag: t.baseAddress!)
            } }
        } } }
        return (Array(ciphertext.prefix(plain.count)), tag)
    }

    static func open(_ gcm: AESGCM, nonce: [UInt8], aad: [UInt8], _ ciphertext: [UInt8], tag: [UInt8]) -> [UInt8]? {
        var plain = [UInt8](repeating: 0, count: ciphertext.count + 1)
        let ok = nonce.withUnsafeBytes { n in aad.withUnsafeBytes { a in ciphertext.withUnsafeBytes { c in
            tag.withUnsafeBytes { t in plain.withUnsafeMutableBytes { p in
                gcm.open(nonce: n, aad: a, ciphertext: c, tag: t, plaintext: p.baseAddress!)
            } }
        } } }
        return ok ? Array(plain.prefix(ciphertext.count)) : nil
    }

    @Test("the GCM specification's AES-256 test case (key, nonce, data and additional data) gives its ciphertext and tag")
    func knownAnswer() throws {
        let key = Self.hex("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308")
        let nonce = Self.hex("cafebabefacedbaddecaf888")
        let aad = Self.hex("feedfacedeadbeeffeedfacedeadbeefabaddad2")
        let plain = Self.hex("d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39")
        let expected = Self.hex("522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662")
        let sealer = key.withUnsafeBytes { AESGCM(key: $0, direction: .seal) }
        let opener = key.withUnsafeBytes { AESGCM(key: $0, direction: .open) }
        let sealed = Self.seal(sealer, nonce: nonce, aad: aad, plain)
        #expect(sealed.ciphertext == expected)
        #expect(sealed.tag == Self.hex("76fc6ece0f4e1768cddf8853bb2d551b"))
        #expect(Self.open(opener, nonce: nonce, aad: aad, expected, tag: sealed.tag) == plain)
        var badTag = sealed.tag
        badTag[15] ^= 1
        #expect(Self.open(opener, nonce: nonce, aad: aad, expected, tag: badTag) == nil)
        #expect(Self.open(opener, nonce: nonce, aad: Array(aad.dropLast()), expected, tag: sealed.tag) == nil)
    }

    @Test("one context seals many packets, of every size from empty to a jumbo frame, as swift-crypto does; each opens both ways")
    func sameAsSwiftCrypto() throws {
        var rng = SystemRandomNumberGenerator()
        let key = SymmetricKey(size: .bits256)
        let sealer = key.withUnsafeBytes { AESGCM(key: $0, direction: .seal) }
        let opener = key.withUnsafeBytes { AESGCM(key: $0, direction: .open) }
        var compared = 0
        for size in [0, 1, 15, 16, 17, 63, 1_400, 8_963] {
            for aadCount in [0, 21] {
                let plain = (0..<size).map { _ in UInt8.random(in: 0...255, using: &rng) }
                let aad = (0..<aadCount).map { _ in UInt8.random(in: 0...255, using: &rng) }
                let nonce = (0..<12).map { _ in UInt8.random(in: 0...255, using: &rng) }
                let ours = Self.seal(sealer, nonce: nonce, aad: aad, plain)
                let theirs = try AES.GCM.seal(plain, using: key, nonce: AES.GCM.Nonce(data: nonce), authenticating: aad)
                #expect(ours.ciphertext == Array(theirs.ciphertext), "\(size) bytes")
                #expect(ours.tag == Array(theirs.tag), "\(size) bytes")
                #expect(Self.open(opener, nonce: nonce, aad: aad, Array(theirs.ciphertext), tag: Array(theirs.tag)) == plain)
                compared += 1
            }
        }
        #expect(compared == 16)
    }

    @Test("a packet sealed the way earlier builds did (swift-crypto, the documented key rule) opens, and ours opens there")
    func earlierBuildsInteroperate() throws {
        let material = Array("a cluster key of at least 128 bits".utf8)
        let (cluster, node, session, counter): (UInt16, UInt32, UInt64, UInt64) = (9, 3, 0x0102_0304_0506_0708, 1)
        var info = Array("totem packet key".utf8)
        info += withUnsafeBytes(of: node.bigEndian, Array.init)
        info += withUnsafeBytes(of: session.bigEndian, Array.init)
        let key = HKDF<SHA256>.deriveKey(inputKeyMaterial: SymmetricKey(data: material),
                                         salt: Array("cluster-totem-v2:\(cluster)".utf8), info: info, outputByteCount: 32)
        var header: [UInt8] = [0xC2]
        header += withUnsafeBytes(of: node.bigEndian, Array.init)
        header += withUnsafeBytes(of: session.bigEndian, Array.init)
        header += withUnsafeBytes(of: counter.bigEndian, Array.init)
        let nonce = try AES.GCM.Nonce(data: withUnsafeBytes(of: node.bigEndian, Array.init) + withUnsafeBytes(of: counter.bigEndian, Array.init))
        let box = try AES.GCM.seal(Array("from an earlier build".utf8), using: key, nonce: nonce, authenticating: header)
        let packet = header + Array(box.ciphertext) + Array(box.tag)

        let receiver = PacketCrypto(keyMaterial: material, clusterID: cluster, nodeID: NodeID(1))
        #expect(receiver.open(packet[...]) == PacketCrypto.Opened(sender: NodeID(node), session: session, counter: counter,
                                                                  plaintext: Array("from an earlier build".utf8)))

        let sender = PacketCrypto(keyMaterial: material, clusterID: cluster, nodeID: NodeID(node), session: session)
        let ours = sender.seal(Array("from this build".utf8))
        #expect(Array(ours.prefix(21)) == header, "the same header for the first packet of the session")
        let opened = try AES.GCM.open(AES.GCM.SealedBox(nonce: nonce, ciphertext: ours[21..<(ours.count - 16)], tag: ours.suffix(16)),
                                      using: key, authenticating: header)
        #expect(Array(opened) == Array("from this build".utf8))
    }
}
