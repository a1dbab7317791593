// SPDX-License-Identifier: Apache-2.0
// fence_node: run a node's configured fence methods now (or its unfence devices with -U), without fenced: the agents
// run here, one after the other, exactly as the fence domain's master would run them.
import ArgumentParser
import ClusterClient
import ClusterConfig
import ClusterConfigModel
import ClusterTypes
import FenceAgents
import FenceCore
import Foundation
import ToolSupport

struct FenceNodeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fence_node",
        abstract: "Fence (or with -U unfence) a node with the methods cluster.conf configures for it.",
        discussion: """
        Methods are tried in order until one succeeds; every device of a method must succeed. Agents get no \
        arguments and their parameters on stdin (key=value lines) and are looked for in $FENCE_AGENT_PATH, \
        <fence_daemon agent_path>, /usr/sbin and /sbin. Exits 0 when the node was fenced (or unfenced), 1 when every \
        method failed. After fencing a node, fence_node tells this node's fenced (if it runs), so the fence domain \
        counts the node as fenced instead of fencing it again.
        """)

    @Flag(name: .customShort("U"), help: "Unfence the node: run its <unfence> devices with action=on.")
    var unfence = false

    @Flag(name: .customShort("v"), help: "Print each agent call and its result; twice also prints the agent's input (secrets masked).")
    var verbose: Int

    @Option(name: [.customShort("f"), .customLong("file")], help: "The cluster.conf to use (default: $CLUSTER_CONF or /etc/cluster/cluster.conf).")
    var file: String?

    @Argument(help: "The node's name (or node id).")
    var node: String

    func run() throws { try reportingToolErrors("fence_node") { try fence() } }

    private func fence() throws {
        let path = ConfigPath.resolve(file)
        // A mistake elsewhere in the file (another node's <fence> section, say) must not stop this node being fenced:
        // the errors are printed, and devices this node cannot use fail with their own message.
        let loaded = ConfigLoader.load(path: path)
        guard let config = loaded.configuration, !loaded.bytes.isEmpty else {
            for d in loaded.diagnostics.errors { ToolOutput.error(d.description) }
            throw ToolError("cannot read \(path)", exit: .configInvalid)
        }
        for d in loaded.diagnostics where d.severity == .error || verbose > 0 { ToolOutput.error(d.description) }
        guard let n = config.node(named: node) ?? UInt32(node).flatMap({ config.node(id: $0) }) else {
            throw ToolError("node \"\(node)\" is not in \(path)")
        }
        let settings = Fence.Settings(config: config)
        guard let plan = settings.plan(for: NodeID(n.nodeID)) else { throw ToolError("node \"\(node)\" is not in \(path)") }
        let verb = unfence ? "unfence" : "fence"
        var sequence = Fence.Sequence(plan: plan, purpose: unfence ? .unfence : .fence)
        if sequence.methods.isEmpty {
            if unfence {
                print("unfence \(plan.name): no <unfence> devices are configured; nothing to do")
                return
            }
            throw ToolError("fence \(plan.name) failed: no fence method is configured for it in \(path)")
        }
        let locator = AgentLocator(configured: config.fenceDaemon.agentPath)
        var step = sequence.start()
        while true {
            switch step {
            case .run(let m, let d, let device):
                let method = sequence.methods[m].name
                let label = "\(verb) \(plan.name) method \(method) device \(device.name)"
                if let problem = device.problem ?? (device.agent == nil ? "no agent is configured" : nil) {
                    ToolOutput.error("fence_node: \(label): \(problem)")
                    step = sequence.record(success: false)
                    continue
                }
                let run = Fence.AgentRun(id: 1, purpose: sequence.purpose, target: plan.id, targetName: plan.name, method: method,
                                         methodNumber: m + 1, device: device.name, deviceNumber: d + 1, agent: device.agent!,
                                         stdin: Fence.AgentCall.stdin(device: device, target: plan.name, defaultAction: unfence ? "on" : "off"),
                                         timeout: config.fenceDaemon.agentTimeout)
                if verbose > 0 {
                    let where_ = (try? locator.locate(run.agent).get()) ?? run.agent  // only for display; the run reports a missing agent
                    print("\(label): agent \(where_)")
                    if verbose > 1 { for line in Fence.AgentCall.masked(run.stdin) { print("    \(line)") } }
                }
                switch FenceAgents.runSynchronously(run, locator: locator) {
                case .success(let report):
                    let ok = report.outcome == .success
                    if verbose > 0 || !ok {
                        let text = "\(label): agent \(run.agent) result: \(report.outcome)"
                        if ok { print(text) } else { ToolOutput.error("fence_node: \(text)") }
                        for line in report.stderr.trimmingCharacters(in: .newlines).split(separator: "\n", omittingEmptySubsequences: false)
                        where !line.isEmpty {
                            if ok { print("    \(line)") } else { ToolOutput.error("    \(line)") }
                        }
                    }
                    step = sequence.record(success: ok)
                case .failure(let e):
                    ToolOutput.error("fence_node: \(e.message)")
                    step = sequence.record(success: false)
                }
            case .succeeded(let method, let agents):
                print("\(verb) \(plan.name) success" + (verbose > 0 ? " (method \(method), \(agents.joined(separator: ",")))" : ""))
                if !unfence { tellFenced(plan.id, name: plan.name, agent: agents.joined(separator: ","), configPath: path) }
                return
            case .failed:
                throw ToolError("\(verb) \(plan.name) failed")
            }
        }
    }
}

extension FenceNodeCommand {
    /// Tells this node's fenced that `node` was fenced here, so the domain settles it as `external` and does not
    /// fence it again. The fence itself succeeded: a fenced that is not running is no error, one that refuses is
    /// reported on stderr.
    func tellFenced(_ node: NodeID, name: String, agent: String, configPath: String) {
        let instance: NodeInstance
        do { instance = try NodeInstance.resolve(config: configPath) } catch {
            ToolOutput.error("fence_node: fenced was not told: \(error)")
            return
        }
        let client: FenceClient
        do { client = try FenceClient(instance: instance, admin: true) } catch {
            if error.code != .notRunning { ToolOutput.error("fence_node: fenced was not told that \(name) was fenced: \(error)") }
            else if verbose > 0 { print("fenced is not running here; nothing to tell it") }
            return
        }
        defer { client.close() }
        do {
            try client.reportExternallyFenced(node, agent: agent)
            if verbose > 0 { print("told fenced that \(name) was fenced by \(agent)") }
        } catch {
            ToolOutput.error("fence_node: fenced was not told that \(name) was fenced: \(error)")
        }
    }
}

FenceNodeCommand.main()
