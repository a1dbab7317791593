// SPDX-License-Identifier: Apache-2.0
import Glibc

/// The command-line side of a control daemon's administrative socket, for tools like `dlm_tool`:
///
///     TOOL [-I INSTANCE] join NAME | leave NAME | ls [--json] | nodes [--json] | pin NODE HOLDER | unpin NODE HOLDER
///
/// plus whatever requests the daemon's subsystem adds. The answer goes to standard output; an error (the daemon's
/// refusal, or the daemon not running) to standard error with exit status 1; a usage error exits 64.
public enum ControlTool {
    /// Runs the tool for `daemon` with the process's arguments and exits.
    public static func main(tool: String, daemon: String, arguments: [String] = Array(CommandLine.arguments.dropFirst())) -> Never {
        var rest = arguments[...]
        var instanceName: String?
        var words: [String] = []
        while let a = rest.popFirst() {
            switch a {
            case "-I":
                guard let v = rest.popFirst() else { usage(tool, "-I needs an instance name") }
                instanceName = v
            case "-h", "--help":
                print(usageText(tool))
                exit(0)
            case "--json", "-j":
                words.append("json")
            default:
                words.append(a)
            }
        }
        guard let command = words.first else { usage(tool, "no command") }
        let arity = ["join": 2, "leave": 2, "pin": 3, "unpin": 3]
        if let n = arity[command], words.count != n { usage(tool, "\(command) takes \(n - 1) argument\(n == 2 ? "" : "s")") }
        do {
            let instance = try NodeInstance.resolve(instance: instanceName)
            let body = try ControlSocket.request(words, path: ControlSocket.path(daemon: daemon, instance: instance))
            print(body, terminator: "")
            exit(0)
        } catch let error as ClusterError {
            ControlDaemonLog.standardError("\(tool): \(error.message)")
        } catch {
            ControlDaemonLog.standardError("\(tool): \(error)")
        }
        exit(1)
    }

    static func usageText(_ tool: String) -> String {
        "usage: \(tool) [-I INSTANCE] join NAME | leave NAME | ls [--json] | nodes [--json] | pin NODE HOLDER | unpin NODE HOLDER"
    }

    static func usage(_ tool: String, _ why: String) -> Never {
        ControlDaemonLog.standardError("\(tool): \(why)\n\(usageText(tool))")
        exit(64)
    }
}
