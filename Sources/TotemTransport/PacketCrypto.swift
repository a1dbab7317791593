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
/// One instance serves all of a node's rings, on the daemon's loop. It keeps an `AESGCM` context for its own session
/// and for the latest few sessions of each peer that authenticated, so a packet costs no key setup.
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
    private let sealer: AESGCM?
    private var counter: UInt64 = 0
    /// Openers for the sessions peers have authenticated with, per node (the latest few).
    private var peerOpeners: [NodeID: [(session: UInt64, opener: AESGCM)]] = [:]

    static let clearMarker: UInt8 = 0xC0
    static let sealedMarker: UInt8 = 0xC2
    static let headerBytes = 1 + 4 + 8 + 8
    /// Bytes a sealed packet adds: header and tag.
    public static let overheadBytes = headerBytes + AESGCM.tagBytes
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
        sealer = master.map { Self.context(master: $0, clusterID: clusterID, node: nodeID, session: session, .seal) }
    }

    /// The AES-GCM context for a session's key, derived from the cluster key.
    private static func context(master: SymmetricKey, clusterID: UInt16, node: NodeID, session: UInt64,
                                _ direction: AESGCM.Direction) -> AESGCM {
        var info = Array("totem packet key".utf8)
        info += withUnsafeBytes(of: node.rawValue.bigEndian, Array.init)
        info += withUnsafeBytes(of: session.bigEndian, Array.init)
        let key = HKDF<SHA256>.deriveKey(inputKeyMaterial: master, salt: Array("cluster-totem-v2:\(clusterID)".utf8),
                                         info: info, outputByteCount: AESGCM.keyBytes)
        return key.withUnsafeBytes { AESGCM(key: $0, direction: direction) }
    }

    /// The packet to put on the wire.
    public func seal(_ plaintext: [UInt8]) -> [UInt8] {
        guard let sealer else { return [Self.clearMarker] + plaintext }
        counter &+= 1
        let total = Self.headerBytes + plaintext.count + AESGCM.tagBytes
        let (node, session, counter) = (nodeID.rawValue, session, counter)
        return [UInt8](unsafeUninitializedCapacity: total) { out, initialized in
            let raw = UnsafeMutableRawBufferPointer(out)
            raw[0] = Self.sealedMarker
            raw.storeBytes(of: node.bigEndian, toByteOffset: 1, as: UInt32.self)
            raw.storeBytes(of: session.bigEndian, toByteOffset: 5, as: UInt64.self)
            raw.storeBytes(of: counter.bigEndian, toByteOffset: 13, as: UInt64.self)
            let header = UnsafeRawBufferPointer(rebasing: raw[0..<Self.headerBytes])
            Self.withNonce(node: node, counter: counter) { nonce in
                plaintext.withUnsafeBytes { plain in
                    sealer.seal(nonce: nonce, aad: header, plaintext: plain,
                                ciphertext: raw.baseAddress! + Self.headerBytes,
                                tag: raw.baseAddress! + Self.headerBytes + plaintext.count)
                }
            }
            initialized = total
        }
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
            let node = UInt32(bigEndianBytes: packet[(s + 1)..<(s + 5)])
            let session = UInt64(bigEndianBytes: packet[(s + 5)..<(s + 13)])
            let counter = UInt64(bigEndianBytes: packet[(s + 13)..<(s + 21)])
            guard node != 0 else { return nil }
            let sender = NodeID(node)
            let cached = peerOpeners[sender]?.first { $0.session == session }?.opener
            let opener = cached ?? Self.context(master: master, clusterID: clusterID, node: sender, session: session, .open)
            let cipherCount = packet.count - Self.overheadBytes
            var authentic = false
            let plaintext = packet.withUnsafeBytes { bytes in
                [UInt8](unsafeUninitializedCapacity: max(cipherCount, 1)) { out, initialized in
                    let body = Self.headerBytes..<(Self.headerBytes + cipherCount)
                    authentic = Self.withNonce(node: node, counter: counter) { nonce in
                        opener.open(nonce: nonce, aad: UnsafeRawBufferPointer(rebasing: bytes[0..<Self.headerBytes]),
                                    ciphertext: UnsafeRawBufferPointer(rebasing: bytes[body]),
                                    tag: UnsafeRawBufferPointer(rebasing: bytes[body.upperBound...]),
                                    plaintext: UnsafeMutableRawPointer(out.baseAddress!))
                    }
                    initialized = authentic ? cipherCount : 0
                }
            }
            guard authentic else { return nil }
            // Only authentic sessions are remembered, so forgeries cannot fill the cache.
            if cached == nil {
                var openers = peerOpeners[sender] ?? []
                openers.insert((session, opener), at: 0)
                peerOpeners[sender] = Array(openers.prefix(Self.sessionsPerPeer))
            }
            return Opened(sender: sender, session: session, counter: counter, plaintext: plaintext)
        default:
            return nil
        }
    }

    /// The 12-byte nonce: the sender's node id and the packet's counter, big-endian.
    private static func withNonce<R>(node: UInt32, counter: UInt64, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        withUnsafeTemporaryAllocation(byteCount: AESGCM.nonceBytes, alignment: 8) { nonce in
            nonce.storeBytes(of: node.bigEndian, toByteOffset: 0, as: UInt32.self)
            nonce.storeBytes(of: counter.bigEndian, toByteOffset: 4, as: UInt64.self)
            return body(UnsafeRawBufferPointer(nonce))
        }
    }
}
extension FixedWidthInteger {
    init(bigEndianBytes bytes: ArraySlice<UInt8>) {
        var v: Self = 0
        for b in bytes { v = v << 8 | Self(b) }
        self = v
    }
}
