// SPDX-License-Identifier: Apache-2.0
import ClusterTypes
import Crypto
import Foundation

/// Authenticates and encrypts totem packets (AES-256-GCM), or frames them in the clear when `secauth` is off.
///
/// A sealed packet is `marker | node id (4) | session (8) | counter (8) | ciphertext | tag (16)`. The whole header is
/// the additional authenticated data, so none of it can be altered. Each process start picks a random 64-bit
/// session and seals under its own key, derived with HKDF-SHA256 from the cluster key (cman's `keyfile`, or the
/// cluster name as cman did without one), the cluster id, the node id and the session; the nonce is the node id and
/// a counter that starts at zero. A (key, nonce) pair therefore never repeats, across restarts too, without
/// anything stored on disk. A packet that fails authentication is dropped and counted, never parsed.
///
/// One instance serves all of a node's rings, on the daemon's loop (it caches the keys of peers' sessions).
public final class PacketCrypto: @unchecked Sendable {  // one owner: the daemon's event loop
    public enum Mode: Sendable { case encrypted, clear }

    /// What an authentic packet says about itself.
    public struct Opened: Sendable, Equatable {
        /// The node id in the authenticated header.
        public var sender: NodeID
        /// The sender's session (its process start) and the packet's counter in it; 0 in clear mode.
        public var session: UInt64
        public var counter: UInt64
        public var plaintext: [UInt8]
    }

    public let mode: Mode
    private let master: SymmetricKey?
    private let clusterID: UInt16
    let nodeID: NodeID
    let session: UInt64
    private let sealingKey: SymmetricKey?
    private var counter: UInt64 = 0
    /// Keys of the sessions peers have authenticated with, per node (the latest few).
    private var peerKeys: [NodeID: [(session: UInt64, key: SymmetricKey)]] = [:]

    static let clearMarker: UInt8 = 0xC0
    static let sealedMarker: UInt8 = 0xC2
    static let headerBytes = 1 + 4 + 8 + 8
    /// Bytes a sealed packet adds: header and tag.
    public static let overheadBytes = headerBytes + 16
    /// The shortest cluster key accepted (128 bits).
    public static let keyBytesMin = 16
    /// Sessions remembered per peer (a restarted peer's packets may still be in flight from the previous one).
    static let sessionsPerPeer = 4

    /// A sealer and opener for `nodeID`. `keyMaterial` nil means clear mode. `session` is random unless a test fixes it.
    public init(keyMaterial: [UInt8]?, clusterID: UInt16, nodeID: NodeID, session: UInt64 = UInt64.random(in: 1...UInt64.max)) {
        self.nodeID = nodeID
        self.clusterID = clusterID
        self.session = session
        if let material = keyMaterial {
            mode = .encrypted
            master = SymmetricKey(data: material)
        } else {
            mode = .clear
            master = nil
        }
        sealingKey = master.map { Self.sessionKey(master: $0, clusterID: clusterID, node: nodeID, session: session) }
    }

    private static func sessionKey(master: SymmetricKey, clusterID: UInt16, node: NodeID, session: UInt64) -> SymmetricKey {
        var info = Array("totem packet key".utf8)
        info += withUnsafeBytes(of: node.rawValue.bigEndian, Array.init)
        info += withUnsafeBytes(of: session.bigEndian, Array.init)
        return HKDF<SHA256>.deriveKey(inputKeyMaterial: master, salt: Array("cluster-totem-v2:\(clusterID)".utf8),
                                      info: info, outputByteCount: 32)
    }

    /// The packet to put on the wire.
    public func seal(_ plaintext: [UInt8]) -> [UInt8] {
        guard let key = sealingKey else { return [Self.clearMarker] + plaintext }
        counter &+= 1
        var out = [UInt8]()
        out.reserveCapacity(plaintext.count + Self.overheadBytes)
        out.append(Self.sealedMarker)
        appendBigEndian(nodeID.rawValue, to: &out)
        appendBigEndian(session, to: &out)
        appendBigEndian(counter, to: &out)
        guard let nonce = try? AES.GCM.Nonce(data: Self.nonce(node: nodeID.rawValue, counter: counter)),
              let box = try? AES.GCM.seal(plaintext, using: key, nonce: nonce, authenticating: out)
        else { preconditionFailure("AES-GCM sealing with a 12-byte nonce and a 32-byte key cannot fail") }
        out += box.ciphertext
        out += box.tag
        return out
    }

    /// The authentic content of `packet`, or nil (wrong key, tampered, truncated, wrong mode).
    public func open(_ packet: ArraySlice<UInt8>) -> Opened? {
        guard let marker = packet.first else { return nil }
        switch (marker, master) {
        case (Self.clearMarker, nil):
            // No authentication: the sender is whoever the address says (the caller checks it).
            return Opened(sender: NodeID(0), session: 0, counter: 0, plaintext: Array(packet.dropFirst()))
        case (Self.sealedMarker, let master?):
            guard packet.count >= Self.overheadBytes else { return nil }
            let s = packet.startIndex
            let header = packet[s..<(s + Self.headerBytes)]
            let node = UInt32(bigEndianBytes: header[(s + 1)..<(s + 5)])
            let session = UInt64(bigEndianBytes: header[(s + 5)..<(s + 13)])
            let counter = UInt64(bigEndianBytes: header[(s + 13)..<(s + 21)])
            guard node != 0 else { return nil }
            let sender = NodeID(node)
            let cached = peerKeys[sender]?.first { $0.session == session }?.key
            let key = cached ?? Self.sessionKey(master: master, clusterID: clusterID, node: sender, session: session)
            let tag = packet[(packet.endIndex - 16)...]
            let ciphertext = packet[(s + Self.headerBytes)..<(packet.endIndex - 16)]
            guard let nonce = try? AES.GCM.Nonce(data: Self.nonce(node: node, counter: counter)), // malformed: not authentic
                  let box = try? AES.GCM.SealedBox(nonce: nonce, ciphertext: ciphertext, tag: tag),
                  let plain = try? AES.GCM.open(box, using: key, authenticating: header)
            else { return nil }
            // Only authentic sessions are remembered, so forgeries cannot fill the cache.
            if cached == nil {
                var keys = peerKeys[sender] ?? []
                keys.insert((session, key), at: 0)
                peerKeys[sender] = Array(keys.prefix(Self.sessionsPerPeer))
            }
            return Opened(sender: sender, session: session, counter: counter, plaintext: Array(plain))
        default:
            return nil
        }
    }

    private static func nonce(node: UInt32, counter: UInt64) -> [UInt8] {
        var n = [UInt8]()
        n.reserveCapacity(12)
        appendBigEndian(node, to: &n)
        appendBigEndian(counter, to: &n)
        return n
    }
}

private func appendBigEndian<T: FixedWidthInteger>(_ value: T, to bytes: inout [UInt8]) {
    withUnsafeBytes(of: value.bigEndian) { bytes += $0 }
}

extension FixedWidthInteger {
    init(bigEndianBytes bytes: ArraySlice<UInt8>) {
        var v: Self = 0
        for b in bytes { v = v << 8 | Self(b) }
        self = v
    }
}
