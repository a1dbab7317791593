// SPDX-License-Identifier: Apache-2.0
import ClusterTypes
import FenceAgents
import FenceCore
import Foundation

/// A temporary directory of fake agents (shell scripts), removed when the test ends.
final class AgentSandbox {
    let dir: String

    init() {
        var template = Array("/tmp/fence-agents-test.XXXXXX".utf8CString)
        dir = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
    }

    deinit { try? FileManager.default.removeItem(atPath: dir) }  // best effort: the directory is private to the test

    /// Writes an executable script `name` with `body` (after `#!/bin/sh`); returns its path.
    @discardableResult
    func agent(_ name: String, _ body: String) -> String {
        let path = "\(dir)/\(name)"
        _ = FileManager.default.createFile(atPath: path, contents: Data("#!/bin/sh\n\(body)\n".utf8), attributes: [.posixPermissions: 0o755])
        return path
    }

    func read(_ name: String) -> String { (try? String(contentsOfFile: "\(dir)/\(name)", encoding: .utf8)) ?? "" }

    var locator: AgentLocator { AgentLocator(configured: [dir], environment: [:]) }

    func run(_ agent: String, stdin: [String] = [], target: String = "n3", timeout: Duration = .seconds(10), id: UInt64 = 1) -> Fence.AgentRun {
        Fence.AgentRun(id: id, purpose: .fence, target: NodeID(3), targetName: target, method: "1", methodNumber: 1, device: "pdu",
                       deviceNumber: 1, agent: agent, stdin: stdin, timeout: timeout)
    }
}
