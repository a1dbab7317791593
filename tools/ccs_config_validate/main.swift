// SPDX-License-Identifier: Apache-2.0
// ccs_config_validate: check a cluster.conf and print every problem as FILE:LINE: message.
import ArgumentParser
import ClusterConfig
import ClusterConfigModel
import FenceAgents
import Foundation
import ToolSupport

struct Validate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ccs_config_validate",
        abstract: "Validate a cluster.conf against the schema and the cluster's rules.",
        discussion: "Every problem is printed as FILE:LINE: message. Exits 0 if the file is valid, 78 if not.")

    @Option(name: [.customShort("f"), .customLong("file")], help: "The cluster.conf to check (default: $CLUSTER_CONF or /etc/cluster/cluster.conf).")
    var file: String?

    @Flag(name: .customShort("q"), help: "Print nothing when the file is valid, and no warnings.")
    var quiet = false

    @Flag(name: .customLong("no-schema"), help: "Skip the RelaxNG schema and run only the built-in checks.")
    var noSchema = false

    @Flag(name: .customLong("json"), help: "Print the diagnostics as JSON.")
    var json = false

    @Flag(name: .customLong("agents"),
          help: "Also ask every fence agent the file uses for its metadata (-o metadata): a missing agent is an error, a parameter it does not have a warning.")
    var agents = false

    func run() throws {
        let path = ConfigPath.resolve(file)
        var loaded = ConfigLoader.load(path: path, useSchema: !noSchema)
        if agents, let config = loaded.configuration {
            let locator = AgentLocator(configured: config.fenceDaemon.agentPath)
            loaded.diagnostics = (loaded.diagnostics + FenceAgents.checkDevices(config, file: path, locator: locator)).sortedForDisplay
        }
        if json {
            struct Item: Encodable { let severity: String; let file: String; let line: Int; let message: String }
            struct Report: Encodable { let file: String; let valid: Bool; let diagnostics: [Item] }
            try ToolOutput.json(Report(file: path, valid: !loaded.diagnostics.hasErrors,
                                       diagnostics: loaded.diagnostics.map { Item(severity: $0.severity.rawValue, file: $0.file, line: $0.line, message: $0.message) }))
        } else {
            for d in loaded.diagnostics where d.severity == .error || !quiet { ToolOutput.error(d.description) }
            if !loaded.diagnostics.hasErrors && !quiet { print("Configuration validates") }
        }
        if loaded.diagnostics.hasErrors {
            if !json { ToolOutput.error("\(path): \(loaded.diagnostics.errors.count) error(s); the configuration does not validate") }
            throw ExitCode(ToolExit.configInvalid.rawValue)
        }
    }
}

Validate.main()
