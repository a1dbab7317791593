// SPDX-License-Identifier: Apache-2.0
import ClusterConfig
import ClusterConfigModel
import ClusterTypes
import FenceCore
import Glibc

/// Runs the fence core's `.runAgent` effects for a daemon's event loop: `start` each run, watch `descriptors`,
/// and call `service(now:)` when one is readable or at `nextDeadline`; it returns the results to feed back as
/// `.agentFinished`. A run whose agent cannot be found or started finishes at once with `.notStarted` and a
/// message naming the node, method, device and the paths looked in.
public final class AgentRunner {
    public let locator: AgentLocator
    private var running: [(run: Fence.AgentRun, process: AgentProcess)] = []
    private var finished: [(run: Fence.AgentRun, report: AgentReport?, result: Fence.AgentResult)] = []

    public init(locator: AgentLocator) { self.locator = locator }

    /// Starts `run`'s agent. Never blocks for longer than a fork and a pipe write.
    public func start(_ run: Fence.AgentRun) {
        switch FenceAgents.spawn(run, locator: locator) {
        case .success(let p): running.append((run, p))
        case .failure(let e): finished.append((run, nil, Fence.AgentResult(runID: run.id, outcome: .notStarted(e.message))))
        }
    }

    /// The pipes of the agents still running.
    public var descriptors: [Int32] { running.flatMap(\.process.descriptors) }

    /// When `service` must be called next (now, if results are waiting).
    public var nextDeadline: MonotonicInstant? {
        if !finished.isEmpty { return AgentProcess.monotonicNow() }
        return running.compactMap(\.process.nextDeadline).min()
    }

    /// The runs that finished since the last call, in the order they finished.
    public func service(now: MonotonicInstant = AgentProcess.monotonicNow()) -> [(run: Fence.AgentRun, report: AgentReport?, result: Fence.AgentResult)] {
        var done = finished
        finished = []
        running.removeAll { entry in
            guard let report = entry.process.service(now: now) else { return false }
            done.append((entry.run, report, report.result(runID: entry.run.id)))
            return true
        }
        return done
    }

    /// Kills every running agent (the daemon is stopping).
    public func killAll() { for r in running { r.process.kill() } }
}

/// One-shot helpers shared by the runner, fence_node and validation.
public enum FenceAgents {
    /// Locates and starts `run`'s agent; errors name the node, method and device.
    public static func spawn(_ run: Fence.AgentRun, locator: AgentLocator) -> Result<AgentProcess, AgentError> {
        let what = "\(run.purpose == .fence ? "fence" : "unfence") \(run.targetName) method \(run.method) device \(run.device)"
        let path: String
        switch locator.locate(run.agent) {
        case .success(let p): path = p
        case .failure(let e): return .failure(AgentError("\(what): \(e.message)"))
        }
        do {
            return .success(try AgentProcess.start(executable: path, stdin: run.stdin, timeout: run.timeout))
        } catch {
            return .failure(AgentError("\(what): \(error.message)"))
        }
    }

    /// Runs `run` to completion (blocking): the report, or why the agent could not start.
    public static func runSynchronously(_ run: Fence.AgentRun, locator: AgentLocator) -> Result<AgentReport, AgentError> {
        spawn(run, locator: locator).map { $0.wait() }
    }

    /// How long an agent may take to print its metadata.
    public static let metadataTimeout: Duration = .seconds(15)

    /// Asks `agent` for `-o metadata` and reads it.
    public static func metadata(of agent: String, locator: AgentLocator) -> Result<Fence.AgentMetadata, AgentError> {
        let path: String
        switch locator.locate(agent) {
        case .success(let p): path = p
        case .failure(let e): return .failure(e)
        }
        let report: AgentReport
        do {
            report = try AgentProcess.start(executable: path, arguments: ["-o", "metadata"], stdin: [], timeout: metadataTimeout).wait()
        } catch {
            return .failure(AgentError("cannot ask agent \(agent) for its metadata: \(error.message)"))
        }
        guard report.outcome == .success else {
            return .failure(AgentError("agent \(agent) -o metadata failed (\(report.outcome))\(report.stderr.isEmpty ? "" : ": \(AgentReport.lastBytes(report.stderr.trimmingTrailingNewlines, 300))")"))
        }
        switch XMLDocumentParser.parse(Array(report.stdout.utf8), file: "\(agent) -o metadata") {
        case .success(let doc):
            guard let m = Fence.AgentMetadata(agent: agent, document: doc) else {
                return .failure(AgentError("agent \(agent) printed no fence-agent metadata (its -o metadata output starts with <\(doc.root.name)>)"))
            }
            return .success(m)
        case .failure(let f):
            let first = f.diagnostics.first.map { $0.message } ?? "not XML"
            return .failure(AgentError("agent \(agent) printed no fence-agent metadata (\(first))"))
        }
    }

    /// Every agent `config` uses asked for its metadata, and the parameter check's diagnostics.
    public static func checkDevices(_ config: ClusterConfiguration, file: String, locator: AgentLocator) -> [ConfigDiagnostic] {
        var metadata: [String: Fence.AgentMetadata] = [:]
        var unavailable: [String: String] = [:]
        for agent in Set(config.fenceDevices.map(\.agent)).sorted() where !agent.isEmpty {
            switch self.metadata(of: agent, locator: locator) {
            case .success(let m): metadata[agent] = m
            case .failure(let e): unavailable[agent] = e.message
            }
        }
        return Fence.ParameterCheck.diagnostics(config: config, metadata: metadata, unavailable: unavailable, file: file)
    }
}
