// SPDX-License-Identifier: Apache-2.0
// o2cb_controld: keeps OCFS2's node manager (configfs) in step with the cluster's membership, and holds OCFS2 mount
// groups (a staged shutdown is refused while one exists); written on the ClusterClient SDK only.
//
//   o2cb_controld [-I INSTANCE] [-C CONFIGFS] [-p PORT] [-f 0|1]
//
// The o2cb port is 7777 unless -p says otherwise. Mount groups are joined and left with o2cb_tool.
import ClusterClient
import Glibc

struct Options {
    var instance: String?
    var configfs = "/sys/kernel/config"
    var port: UInt16 = 7777
    var fencing = true

    static let usage = "usage: o2cb_controld [-I INSTANCE] [-C CONFIGFS_ROOT] [-p PORT] [-f 0|1]"

    init(_ args: [String]) {
        var rest = args[...]
        func value(_ flag: String) -> String {
            guard let v = rest.popFirst() else { Self.fail("\(flag) needs a value") }
            return v
        }
        while let a = rest.popFirst() {
            switch a {
            case "-I": instance = value(a)
            case "-C": configfs = value(a)
            case "-p":
                let v = value(a)
                guard let p = UInt16(v), p > 0 else { Self.fail("-p takes a port number (1-65535), not '\(v)'") }
                port = p
            case "-f":
                switch value(a) {
                case "0": fencing = false
                case "1": fencing = true
                case let v: Self.fail("-f takes 0 or 1, not '\(v)'")
                }
            case "-h", "--help": print(Self.usage); exit(0)
            default: Self.fail("unknown option '\(a)'")
            }
        }
    }

    static func fail(_ why: String) -> Never {
        ControlDaemonLog.standardError("o2cb_controld: \(why)\n\(usage)")
        exit(64)
    }
}

let options = Options(Array(CommandLine.arguments.dropFirst()))
let instance: NodeInstance
do { instance = try NodeInstance.resolve(instance: options.instance) } catch {
    ControlDaemonLog.standardError("o2cb_controld: \(error)")
    exit(78)
}
do {
    let manager = O2CBNodeManager(configfsRoot: options.configfs, port: options.port, stateDirectory: instance.runDirectory + "/o2cb")
    let configuration = ControlDaemon<O2CBNodeManager>.Configuration(name: "o2cb_controld", groupPrefix: "ocfs2", level: 2,
                                                                    requireFencing: options.fencing, instance: instance)
    configuration.log("o2cb_controld: configfs \(options.configfs)/cluster, port \(options.port), fencing \(options.fencing ? "on" : "off")")
    try await ControlDaemon(configuration, subsystem: manager).run()
} catch let error as ClusterError {
    ControlDaemonLog.standardError("o2cb_controld: \(error.message)")
    exit(1)
} catch {
    ControlDaemonLog.standardError("o2cb_controld: \(error)")
    exit(1)
}
