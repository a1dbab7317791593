// SPDX-License-Identifier: Apache-2.0
import ClusterConfigModel
import ClusterDaemonSupport
import ClusterIPC
import ClusterSystem
import ClusterTypes
import Foundation
import Logging
import QuorumCore

/// The quorum disk in quorumd: reads and writes the shared disk every interval, runs the heuristics as programs,
/// and hands the `QuorumDisk.StateMachine`'s decisions to the quorum core.
final class QuorumDiskRunner {
    let path: String
    let config: QuorumDiskConfig
    let nodeID: NodeID
    let logger: Logger
    var core: QuorumDisk.StateMachine
    private var fd: Int32 = -1
    private var heuristics: [Heuristic]
    private var lastVotes: UInt32?
    private var lastMaster: NodeID??
    /// Called with each interval's decision.
    var onDecision: (QuorumDisk.Decision) -> Void = { _ in }
    /// The totem membership, read when writing the master's partition.
    var members: () -> [NodeID] = { [] }
    /// Whether the quorum core's master offer may still be counted by others (its retraction not delivered yet).
    var offerOutstanding: () -> Bool = { false }

    /// A heuristic program and its recent results.
    final class Heuristic {
        let config: QuorumHeuristic
        var process: Process?
        var lastStart: MonotonicInstant?
        var failures = 0
        var passing = false
        init(_ config: QuorumHeuristic) { self.config = config }
    }

    init(config: QuorumDiskConfig, nodeID: NodeID, nodeCount: Int, logger: Logger) throws(StartupError) {
        guard let device = config.device else {
            throw StartupError("<quorumd label=> needs a device lookup this build does not do; give device= (a shared block device or file)", .configInvalid)
        }
        path = device
        self.config = config
        self.nodeID = nodeID
        self.logger = logger
        heuristics = config.heuristics.map(Heuristic.init)
        let total = config.heuristics.reduce(0) { $0 + $1.score }
        let votes = config.votes ?? UInt32(max(nodeCount - 1, 1))
        core = QuorumDisk.StateMachine(nodeID: nodeID, settings: QuorumDisk.Settings(
            votes: votes, tko: Int(config.tko), masterWait: config.masterWait.map(Int.init), masterWins: config.masterWins,
            minScore: config.minScore ?? (total + 1) / 2))
    }

    /// Opens (creating if needed) the shared disk and starts the interval timer.
    func start(loop: EventLoop) throws(StartupError) {
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw StartupError("cannot open the quorum disk \(path): \(String(cString: strerror(errno)))", .unavailable)
        }
        let size = off_t((QuorumDisk.nodesMax + 1) * QuorumDisk.blockBytes)
        var st = stat()
        if fstat(fd, &st) == 0 && st.st_size < size { _ = ftruncate(fd, size) }
        logger.info("quorum disk \(path): interval \(config.interval), tko \(config.tko), votes \(core.settings.votes), \(heuristics.count) heuristic(s)")
        tick(loop: loop)
    }

    private func tick(loop: EventLoop) {
        let now = EventLoop.now()
        runHeuristics(now: now)
        let decision = core.interval(blocks: readBlocks(), score: score(), members: members(), offerOutstanding: offerOutstanding())
        write(decision.block)
        if decision.votes != lastVotes || decision.master != lastMaster {
            logger.notice("quorum disk: \(decision.master.map { "master is node \($0)" } ?? "no master"); offering \(decision.votes) vote(s)")
            lastVotes = decision.votes
            lastMaster = decision.master
        }
        onDecision(decision)
        loop.schedule(after: config.interval) { [weak self] in self?.tick(loop: loop) }
    }

    private func readBlocks() -> [QuorumDisk.Block] {
        var bytes = [UInt8](repeating: 0, count: (QuorumDisk.nodesMax + 1) * QuorumDisk.blockBytes)
        let n = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        guard n > 0 else { return [] }
        return (1...QuorumDisk.nodesMax).compactMap { i in
            let start = i * QuorumDisk.blockBytes
            guard start + QuorumDisk.blockBytes <= n else { return nil }
            return QuorumDisk.Block.decode(bytes[start..<(start + QuorumDisk.blockBytes)])
        }
    }

    private func write(_ block: QuorumDisk.Block) {
        let bytes = block.encode()
        let offset = off_t(Int(nodeID.rawValue) * QuorumDisk.blockBytes)
        let n = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, offset) }
        if n != bytes.count {
            logger.error("cannot write the quorum disk \(path): \(String(cString: strerror(errno)))")
            return
        }
        _ = fdatasync(fd)
    }

    // MARK: - Heuristics

    private func runHeuristics(now: MonotonicInstant) {
        for h in heuristics {
            if let p = h.process, !p.isRunning {
                if p.terminationStatus == 0 {
                    h.failures = 0
                    h.passing = true
                } else {
                    h.failures += 1
                    if h.failures >= Int(h.config.tko) {
                        if h.passing { logger.warning("quorum disk heuristic '\(h.config.program)' failed \(h.failures) time(s)") }
                        h.passing = false
                    }
                }
                h.process = nil
            }
            guard h.process == nil, h.lastStart.map({ now - $0 >= h.config.interval }) ?? true else { continue }
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/bin/sh")
            p.arguments = ["-c", h.config.program]
            p.standardInput = FileHandle.nullDevice
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            do {
                try p.run()
                h.process = p
                h.lastStart = now
            } catch {
                logger.warning("cannot run quorum disk heuristic '\(h.config.program)': \(error)")
                h.failures += 1
                h.passing = h.failures < Int(h.config.tko)
                h.lastStart = now
            }
        }
    }

    private func score() -> UInt32 {
        heuristics.filter(\.passing).reduce(0) { $0 + $1.config.score }
    }
}
