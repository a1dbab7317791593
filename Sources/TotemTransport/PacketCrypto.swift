// SPDX-License-Identifier: Apache-2.0
import ClusterTypes
import Crypto
import Foundation

/// Authenticates and encrypts totem packets (AES-256-GCM), or frames them in the clear when `secauth` is off.
///
/// The key is derived with HKDF-SHA256 from the key material (cman's `keyfile`, or the cluster name as cman did when
/// no key file is given) and the cluster id, so clusters sharing a network and a passphrase still cannot read each
/// other. Nonces are the sender's node id followed by a 64-bit counter that starts at a random value, so they never
/// repeat across restarts. A packet that fails authentication is dropped and counted, never parsed.
public struct PacketCrypto: @unchecked Sendable {  // SymmetricKey is immutable; swift-crypto does not mark it Sendable
    public enum Mode: Sendable { case encrypted, clear }

    let mode: Mode
    let key: SymmetricKey?
    let nodeID: UInt32
    private var counter: UInt64

    static let clearMarker: UInt8 = 0xC0
    static let sealedMarker: UInt8 = 0xC1
    /// Bytes a sealed packet adds: marker, nonce and tag.
    public static let overheadBytes = 1 + 12 + 16

    /// A sealer for `nodeID`. `keyMaterial` nil means clear mode.
    public init(keyMaterial: [UInt8]?, clusterID: UInt16, nodeID: NodeID) {
        self.nodeID = nodeID.rawValue
        counter = UInt64.random(in: 0...(UInt64.max / 2))
        if let material = keyMaterial {
            mode = .encrypted
            let salt = Array("cluster-totem-v1:\(clusterID)".utf8)
            key = HKDF<SHA256>.deriveKey(inputKeyMaterial: SymmetricKey(data: material), salt: salt,
                                         info: Array("totem packet key".utf8), outputByteCount: 32)
        } else {
            mode = .clear
            key = nil
        }
    }

    /// The packet to put on the wire.
    public mutating func seal(_ plaintext: [UInt8]) -> [UInt8] {
        guard let key else { return [Self.clearMarker] + plaintext }
        counter &+= 1
        var nonceBytes = [UInt8](repeating: 0, count: 12)
        for i in 0..<4 { nonceBytes[i] = UInt8(truncatingIfNeeded: nodeID >> UInt32(24 - 8 * i)) }
        for i in 0..<8 { nonceBytes[4 + i] = UInt8(truncatingIfNeeded: counter >> UInt64(56 - 8 * i)) }
        guard let nonce = try? AES.GCM.Nonce(data: nonceBytes),
              let box = try? AES.GCM.seal(plaintext, using: key, nonce: nonce, authenticating: [Self.sealedMarker])
        else { preconditionFailure("AES-GCM sealing with a 12-byte nonce and a 32-byte key cannot fail") }
        var out = [UInt8]()
        out.reserveCapacity(plaintext.count + Self.overheadBytes)
        out.append(Self.sealedMarker)
        out += nonceBytes
        out += box.ciphertext
        out += box.tag
        return out
    }

    /// The plaintext, or nil if the packet is not authentic (wrong key, tampered, truncated, wrong mode).
    public func open(_ packet: ArraySlice<UInt8>) -> [UInt8]? {
        guard let marker = packet.first else { return nil }
        switch (marker, key) {
        case (Self.clearMarker, nil):
            return Array(packet.dropFirst())
        case (Self.sealedMarker, let key?):
            guard packet.count >= Self.overheadBytes else { return nil }
            let start = packet.startIndex
            let nonceBytes = packet[(start + 1)..<(start + 13)]
            let tag = packet[(packet.endIndex - 16)...]
            let ciphertext = packet[(start + 13)..<(packet.endIndex - 16)]
            guard let nonce = try? AES.GCM.Nonce(data: nonceBytes), // malformed: not authentic
                  let box = try? AES.GCM.SealedBox(nonce: nonce, ciphertext: ciphertext, tag: tag),
                  let plain = try? AES.GCM.open(box, using: key, authenticating: [Self.sealedMarker])
            else { return nil }
            return Array(plain)
        default:
            return nil
        }
    }
}
