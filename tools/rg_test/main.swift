// SPDX-License-Identifier: Apache-2.0
// rg_test: shows the resource trees rgmanager builds from cluster.conf, the order it would run them in, and runs
// them for real on this node (no daemon needed).
import ArgumentParser
import ClusterConfig
import ClusterConfigModel
import Foundation
import ResourceAgents
import ResourceCore
import ToolSupport

struct Common: ParsableArguments {
    @Option(name: .customLong("agents"), help: "The directory of rgmanager's agents (default: $CLUSTER_AGENT_DIR, /usr/share/cluster/agents, or the source tree's agents/).")
    var agents: String?

    @Flag(name: .customLong("json"), help: "Print the result as JSON.")
    var json = false

    func runner() throws -> AgentRunner {
        guard let locator = AgentLocator.standard(agentDirectory: agents) else {
            throw ToolError("no agent directory found (looked in \(AgentLocator.searchPaths.joined(separator: ", "))); use --agents DIR", exit: .unavailable)
        }
        return AgentRunner(locator: locator, baseEnvironment: nil)
    }
}

/// cluster.conf's trees, with every problem printed on stderr as FILE:LINE: message.
struct LoadedTrees {
    var forest: ResourceManager.Forest
    var rules: [String: ResourceManager.Rule]
    var hasErrors: Bool

    static func load(_ path: String, runner: AgentRunner, quiet: Bool = false) throws -> LoadedTrees {
        let loaded = ConfigLoader.load(path: path)
        guard let config = loaded.configuration else {
            for d in loaded.diagnostics.sortedForDisplay { ToolOutput.error(d.description) }
            throw ToolError("\(path) cannot be read as a cluster configuration", exit: .configInvalid)
        }
        let rm = config.resourceManager ?? ResourceManagerConfig()
        let (rules, failures) = RuleLoader(runner: runner).load(extraTypes: RuleLoader.usedTypes(rm))
        for f in failures { ToolOutput.error("rg_test: \(f)") }
        var builder = ResourceManager.TreeBuilder(rules: rules, file: path)
        let forest = builder.build(rm)
        // The tree builder repeats some checks of the config rules (a ref= to nothing); keep one per line.
        let errorLines = Set(loaded.diagnostics.errors.map(\.line))
        let all = (loaded.diagnostics + forest.diagnostics.filter { $0.severity == .warning || !errorLines.contains($0.line) }).sortedForDisplay
        if !quiet { for d in all { ToolOutput.error(d.description) } }
        return LoadedTrees(forest: forest, rules: rules, hasErrors: all.hasErrors || !failures.isEmpty)
    }

    func service(_ kind: String, _ name: String) throws -> ResourceManager.Resource {
        guard kind == "service" || kind == "vm" else { throw ToolError("only whole services can be run: use 'service NAME'", exit: .usage) }
        guard let s = forest.services.first(where: { $0.type == kind && $0.primaryValue == name }) else {
            let why = forest.brokenServices.contains(name) ? "has errors (see above)" : "is not defined"
            throw ToolError("\(kind) \"\(name)\" \(why)")
        }
        return s
    }
}

struct RGTest: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rg_test",
        abstract: "Test rgmanager resource trees without the cluster.",
        subcommands: [TestCommand.self, Noop.self, Rules.self, Delta.self])
}

struct TestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "test",
        abstract: "Print the resource trees of CONF, or run start, stop or status of a service on this node.",
        discussion: "rg_test test CONF prints every tree; rg_test test CONF start service NAME runs the agents in order, printing each step.")

    @OptionGroup var common: Common
    @Argument(help: "The cluster.conf to read.") var conf: String
    @Argument(help: "start, stop or status, then 'service NAME'.") var operation: [String] = []
    @Option(name: .customLong("depth"), help: "OCF_CHECK_LEVEL for status.") var depth = 0

    func run() throws {
        let runner = try common.runner()
        if !common.json { print("Running in test mode.") }
        let trees = try LoadedTrees.load(conf, runner: runner)
        if operation.isEmpty {
            if common.json {
                try ToolOutput.json(TreeJSON.forest(trees.forest))
            } else {
                print("Loaded \(trees.rules.count) resource rules")
                print("=== Resource Tree ===")
                for s in trees.forest.services { print(s.formattedTree(), terminator: "") }
            }
            if trees.hasErrors { throw ExitCode(ToolExit.configInvalid.rawValue) }
            return
        }
        let (action, kind, name) = try parseOperation(operation)
        let svc = try trees.service(kind, name)
        let steps = ResourceManager.Planner(rules: trees.rules).plan(action, svc)
        print("\(action.verb) \(name)...")
        var failed = false
        for step in steps {
            let resource = svc[path: step.path]
            let timeout = trees.rules[resource.type]?.timeout(for: action.rawValue) ?? ResourceManager.defaultActionTimeout
            print(step.description)
            let (result, _) = runner.run(AgentCall(resource: resource, action: action.rawValue, depth: action == .status ? depth : 0, timeout: timeout))
            if !result.succeeded {
                ToolOutput.error("\(step.description) failed: \(result)")
                failed = true
                // A failure ends start and status; stop goes on with the rest (rgmanager's rule).
                if action != .stop { break }
            }
        }
        if failed {
            ToolOutput.error("\(action.failure) \(name)")
            throw ExitCode(ToolExit.failure.rawValue)
        }
        print("\(action.noun) of \(name) complete")
    }
}

struct Noop: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "noop", abstract: "Print the order in which a service's agents would run, running nothing.")

    @OptionGroup var common: Common
    @Argument(help: "The cluster.conf to read.") var conf: String
    @Argument(help: "start, stop or status, then 'service NAME'.") var operation: [String]

    func run() throws {
        let runner = try common.runner()
        let trees = try LoadedTrees.load(conf, runner: runner)
        let (action, kind, name) = try parseOperation(operation)
        let svc = try trees.service(kind, name)
        let steps = ResourceManager.Planner(rules: trees.rules).plan(action, svc)
        if common.json {
            struct Step: Encodable { let action: String; let type: String; let name: String }
            try ToolOutput.json(steps.map { Step(action: $0.action.rawValue, type: $0.type, name: $0.primaryValue) })
            return
        }
        print("Running in test mode.")
        print("\(action.verb) \(name)...")
        for s in steps { print(s.description) }
        print("\(action.noun) of \(name) complete")
    }
}

struct Rules: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rules", abstract: "Print every resource rule the agents' metadata gives.")

    @OptionGroup var common: Common
    @Option(name: .customLong("type"), help: "Also load this OCF type (ocf.PROVIDER.AGENT); repeatable.") var types: [String] = []

    func run() throws {
        let runner = try common.runner()
        let (rules, failures) = RuleLoader(runner: runner).load(extraTypes: types)
        for f in failures { ToolOutput.error("rg_test: \(f)") }
        if common.json {
            try ToolOutput.json(rules.keys.sorted().map { RuleJSON(rules[$0]!, agent: runner.locator.executable(for: $0)) })
        } else {
            for type in rules.keys.sorted() { print(RuleText.format(rules[type]!, agent: runner.locator.executable(for: type))) }
        }
        if !failures.isEmpty { throw ExitCode(ToolExit.failure.rawValue) }
    }
}

struct Delta: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "delta", abstract: "Print how the resource trees of NEW differ from those of OLD.")

    @OptionGroup var common: Common
    @Argument(help: "The old cluster.conf.") var old: String
    @Argument(help: "The new cluster.conf.") var new: String

    func run() throws {
        let runner = try common.runner()
        let a = try LoadedTrees.load(old, runner: runner)
        let b = try LoadedTrees.load(new, runner: runner)
        let changes = ResourceManager.TreeDelta.between(a.forest.services, b.forest.services)
        if common.json {
            try ToolOutput.json(changes.map { ["service": $0.service, "change": $0.kind.rawValue, "detail": $0.details.joined(separator: "\n")] })
        } else if changes.isEmpty {
            print("No resource tree changes")
        } else {
            for c in changes { print(c.description) }
        }
    }
}

func parseOperation(_ operation: [String]) throws -> (ResourceManager.Action, String, String) {
    guard operation.count == 3, let action = ResourceManager.Action(rawValue: operation[0]) else {
        throw ToolError("expected: start|stop|status service NAME", exit: .usage)
    }
    return (action, operation[1], operation[2])
}

extension ResourceManager.Action {
    var verb: String { switch self { case .start: "Starting"; case .stop: "Stopping"; case .status: "Checking status of" } }
    var noun: String { switch self { case .start: "Start"; case .stop: "Stop"; case .status: "Status check" } }
    var failure: String { switch self { case .start: "Failed to start"; case .stop: "Failed to stop"; case .status: "Status check failed for" } }
}

RGTest.main()
