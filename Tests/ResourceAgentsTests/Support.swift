// SPDX-License-Identifier: Apache-2.0
import Foundation
import ResourceAgents
import TestSupportKit

/// The shipped agents, and scratch agent directories holding them plus test agents.
enum Agents {
    static let shipped = TestBinaries.repositoryRoot + "/agents"
    static let examples = TestBinaries.repositoryRoot + "/etc/examples"
    static let testdata = TestBinaries.repositoryRoot + "/Tests/ResourceAgentsTests/testdata"

    static var runner: AgentRunner { AgentRunner(locator: AgentLocator(agentDirectory: shipped)) }

    /// A temporary agent directory with every shipped agent (symlinked) and `extra` scripts (name -> body).
    static func scratch(_ extra: [String: String]) throws -> String {
        let dir = try makeTemporaryDirectory("rm-agents")
        let fm = FileManager.default
        for name in try fm.contentsOfDirectory(atPath: shipped) {
            try fm.createSymbolicLink(atPath: dir + "/" + name, withDestinationPath: shipped + "/" + name)
        }
        for (name, body) in extra { try writeExecutable("#!/bin/sh\n" + body, to: dir + "/" + name) }
        return dir
    }

    /// Writes a script with a close-on-exec descriptor: a descriptor open for writing that leaks into a process
    /// another test spawns at that moment would make executing the script fail with "text file busy".
    static func writeExecutable(_ text: String, to path: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o755)
        guard fd >= 0 else { throw CocoaError(.fileWriteUnknown) }
        let bytes = Array(text.utf8)
        let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        close(fd)
        guard written == bytes.count else { throw CocoaError(.fileWriteUnknown) }
    }

    /// Minimal metadata for a test agent of `type` with the given parameters and action timeout.
    static func metadata(_ type: String, parameters: [String] = ["name"], timeout: Int = 5) -> String {
        let params = parameters.enumerated().map { i, p in "<parameter name=\"\(p)\"\(i == 0 ? " primary=\"1\"" : "")><content type=\"string\"/></parameter>" }
        return """
        if [ "$1" = meta-data ]; then cat <<'XML'
        <?xml version="1.0"?>
        <resource-agent name="\(type)"><parameters>\(params.joined())</parameters>
        <actions><action name="start" timeout="\(timeout)"/><action name="stop" timeout="\(timeout)"/><action name="status" timeout="\(timeout)" interval="10"/></actions>
        </resource-agent>
        XML
        exit 0; fi

        """
    }

    /// True once `pid` has exited (a zombie counts: this machine's init may not reap orphans).
    static func isGone(_ pid: Int32) -> Bool {
        guard kill(pid, 0) == 0 else { return true }
        let stat = read("/proc/\(pid)/stat")
        guard let close = stat.lastIndex(of: ")") else { return true }
        return stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).hasPrefix("Z")
    }

    static func write(_ text: String, to path: String) throws { try text.write(toFile: path, atomically: true, encoding: .utf8) }
    static func read(_ path: String) -> String { (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }
}
