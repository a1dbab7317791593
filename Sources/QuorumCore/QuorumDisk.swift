// SPDX-License-Identifier: Apache-2.0
import ClusterTypes
import ClusterWire

/// The quorum disk (qdiskd's role) as a pure state machine.
///
/// Every node owns one block of a shared disk (or file) and rewrites it each interval with a heartbeat counter, its
/// heuristic fitness, and — on the master — the set of nodes in the master's partition. A node whose heartbeat stops
/// for `tko` intervals is dead by disk. The master is the lowest-numbered node that is alive on disk and fit; once a
/// node has seen itself the candidate for `masterWait` intervals and no lower node claims it, it claims it. The
/// master's partition (its totem membership, among the nodes alive on disk) gets the device's votes; every other node
/// offers none. So a two-node cluster that loses its link keeps exactly one quorate side: the master's. With master_wins
/// a master that loses the role keeps claiming it (offering nothing) until its quorum core has delivered the
/// retraction of its offer, so that no partition still counting the old master's offer meets a new master.
public enum QuorumDisk {
    /// The most nodes (node ids 1...16), as qdisk.
    public static let nodesMax = 16
    /// One block per node, after a header block.
    public static let blockBytes = 512
    public static let magic: UInt32 = 0x5144_4B31  // "QDK1"

    /// What a node writes into its block.
    public struct Block: Hashable, Sendable {
        public var nodeID: NodeID
        /// Incremented on every write: the heartbeat.
        public var heartbeat: UInt64
        public var fit: Bool
        public var claimsMaster: Bool
        /// On the master: the nodes in its partition (bit n-1 for node n).
        public var partitionMask: UInt32
        /// On the master: nodes it declares dead by disk and expects to leave.
        public var evictMask: UInt32

        public init(nodeID: NodeID, heartbeat: UInt64, fit: Bool, claimsMaster: Bool, partitionMask: UInt32, evictMask: UInt32) {
            self.nodeID = nodeID
            self.heartbeat = heartbeat
            self.fit = fit
            self.claimsMaster = claimsMaster
            self.partitionMask = partitionMask
            self.evictMask = evictMask
        }

        public func encode() -> [UInt8] {
            var w = ByteWriter(capacity: QuorumDisk.blockBytes)
            w.write(QuorumDisk.magic)
            w.write(nodeID.rawValue)
            w.write(heartbeat)
            w.write(fit)
            w.write(claimsMaster)
            w.write(partitionMask)
            w.write(evictMask)
            var bytes = w.bytes
            bytes += [UInt8](repeating: 0, count: QuorumDisk.blockBytes - bytes.count)
            return bytes
        }

        /// nil for an empty or foreign block.
        public static func decode(_ bytes: ArraySlice<UInt8>) -> Block? {
            var r = ByteReader(bytes: bytes)
            guard (try? r.readUInt32()) == QuorumDisk.magic, let id = try? r.readUInt32(), id >= 1, id <= UInt32(QuorumDisk.nodesMax),
                  let hb = try? r.readUInt64(), let fit = try? r.readBool(), let master = try? r.readBool(),
                  let mask = try? r.readUInt32(), let evict = try? r.readUInt32()
            else { return nil } // not a block (never written, or garbage)
            return Block(nodeID: NodeID(id), heartbeat: hb, fit: fit, claimsMaster: master, partitionMask: mask, evictMask: evict)
        }
    }

    public struct Settings: Hashable, Sendable {
        public var votes: UInt32
        public var tko: Int
        public var masterWait: Int
        public var masterWins: Bool
        public var minScore: UInt32
        /// Deliberate weakenings (mutation tests only).
        public var mutations: Quorum.Mutations = []
        public init(votes: UInt32, tko: Int, masterWait: Int? = nil, masterWins: Bool, minScore: UInt32) {
            self.votes = votes
            self.tko = max(tko, 1)
            // At least two intervals: a node that just appeared on the disk must be seen by a higher candidate, which
            // then stands down, before it may claim (two masters would give two partitions the device's votes).
            self.masterWait = max(masterWait ?? tko / 2, 2)
            self.masterWins = masterWins
            self.minScore = minScore
        }
    }

    /// What one interval decided.
    public struct Decision: Hashable, Sendable {
        /// Write this at this node's block.
        public var block: Block
        /// The votes to offer quorumd (the device's votes in the master's partition, else 0; with master_wins only
        /// the master offers them).
        public var votes: UInt32
        public var master: NodeID?
        /// This node is the master.
        public var isMaster: Bool
        /// Nodes alive by disk.
        public var alive: [NodeID]
        /// Members the master wants gone (dead by disk but still in its membership).
        public var evict: [NodeID]
        /// This node was evicted by the master: it must leave.
        public var evicted: Bool
    }

    /// One node's view of the disk.
    public struct StateMachine: Sendable {
        public let nodeID: NodeID
        public let settings: Settings
        var heartbeat: UInt64 = 0
        var lastHeartbeat: [NodeID: UInt64] = [:]
        var unchanged: [NodeID: Int] = [:]
        var candidateFor = 0
        public private(set) var isMaster = false
        /// With master_wins: this node was master, is no longer, and its quorum core's master offer may still be
        /// counted by members of its partition. It goes on claiming the role on disk (offering nothing), so no other
        /// node can become master, until its retraction has been delivered.
        public private(set) var isReleasing = false

        public init(nodeID: NodeID, settings: Settings) {
            precondition(nodeID.rawValue >= 1 && nodeID.rawValue <= UInt32(QuorumDisk.nodesMax), "quorum disk node ids are 1...16")
            self.nodeID = nodeID
            self.settings = settings
        }

        /// One interval: the blocks read from the disk, this node's heuristic score, its totem membership, and
        /// whether its quorum core's master offer may still be counted by others (`Quorum.StateMachine`'s
        /// `masterOfferOutstanding`: announced, and its retraction not yet delivered).
        public mutating func interval(blocks: [Block], score: UInt32, members: [NodeID], offerOutstanding: Bool = false) -> Decision {
            heartbeat += 1
            var alive: Set<NodeID> = [nodeID]
            var byNode: [NodeID: Block] = [:]
            for b in blocks where b.nodeID != nodeID {
                byNode[b.nodeID] = b
                if lastHeartbeat[b.nodeID] != b.heartbeat {
                    lastHeartbeat[b.nodeID] = b.heartbeat
                    unchanged[b.nodeID] = 0
                } else {
                    unchanged[b.nodeID, default: 0] += 1
                }
                if unchanged[b.nodeID, default: 0] < settings.tko { alive.insert(b.nodeID) }
            }
            let fit = score >= settings.minScore
            // The candidate: the lowest node alive on disk and fit.
            let fitAlive = alive.filter { $0 == nodeID ? fit : (byNode[$0]?.fit ?? false) }.sorted()
            // No claim while any other live node claims: the claimant stands down first once it sees a lower fit node.
            let lowerClaims = byNode.values.contains { $0.claimsMaster && $0.nodeID != nodeID && alive.contains($0.nodeID) }
            let wasMaster = isMaster
            if fit && fitAlive.first == nodeID && !lowerClaims && !isReleasing {
                candidateFor += 1
            } else {
                candidateFor = 0
                isMaster = false
            }
            if candidateFor >= settings.masterWait { isMaster = true }
            // qdisk(5) master_wins: the device's votes may be in one partition only. The members of a master's
            // partition count its offer until they deliver its retraction, which may take a ring or two (the ring is
            // breaking up when masters change), so a master that loses the role keeps its claim on the disk until
            // its quorum core says the retraction is delivered (everyone who goes on with it has it, and everyone
            // else saw it leave). Only then may another node start its candidacy.
            if settings.masterWins && wasMaster && !isMaster && offerOutstanding
                && !settings.mutations.contains(.masterReleasesAtOnce) {
                isReleasing = true
            }
            if isReleasing && !offerOutstanding { isReleasing = false }
            let master: NodeID? = isMaster ? nodeID : byNode.values.filter { $0.claimsMaster && alive.contains($0.nodeID) }.map(\.nodeID).min()
            var partition: UInt32 = 0
            var evictMask: UInt32 = 0
            if isMaster {
                let memberSet = Set(members)
                for n in alive.sorted() where !settings.masterWins || memberSet.contains(n) || n == nodeID {
                    partition |= 1 << (n.rawValue - 1)
                }
                for n in memberSet.sorted() where n != nodeID && !alive.contains(n) && n.rawValue <= UInt32(QuorumDisk.nodesMax) {
                    evictMask |= 1 << (n.rawValue - 1)
                }
            }
            let block = Block(nodeID: nodeID, heartbeat: heartbeat, fit: fit, claimsMaster: isMaster || isReleasing, partitionMask: partition,
                              evictMask: evictMask)
            var votes: UInt32 = 0
            var evicted = false
            let bit: UInt32 = 1 << (nodeID.rawValue - 1)
            if isMaster {
                votes = fit ? settings.votes : 0
            } else if let m = master, let mb = byNode[m] {
                // qdisk(5) master_wins: only the master advertises the device's votes, so exactly one partition
                // (the master's, through the master's own announcement) can count them.
                let advertise = !settings.masterWins || settings.mutations.contains(.nonMastersCountQdiskVotes)
                votes = advertise && fit && (mb.partitionMask & bit) != 0 ? settings.votes : 0
                evicted = (mb.evictMask & bit) != 0
            }
            return Decision(block: block, votes: votes, master: master, isMaster: isMaster, alive: alive.sorted(),
                            evict: (0..<QuorumDisk.nodesMax).filter { evictMask & (1 << $0) != 0 }.map { NodeID(UInt32($0 + 1)) },
                            evicted: evicted)
        }
    }
}
