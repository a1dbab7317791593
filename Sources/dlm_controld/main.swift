// SPDX-License-Identifier: Apache-2.0
// dlm_controld: tells the kernel DLM the cluster's nodes through configfs and runs every lockspace's membership
// and recovery (a failed member is fenced before the lockspace recovers), on the ClusterClient SDK only.
//
//   dlm_controld [-I INSTANCE] [-C CONFIGFS] [-S SYSFS] [-f 0|1] [-q 0|1]
//
// Lockspaces are joined and left with dlm_tool (dlm_tool join NAME). <dlm> in cluster.conf sets protocol, timewarn,
// enable_fencing and enable_quorum; -f and -q override the last two.
import ClusterClient
import Glibc

struct Options {
    var instance: String?
    var configfs = "/sys/kernel/config"
    var sysfs = "/sys/kernel"
    var fencing: Bool?
    var quorum: Bool?

    static let usage = "usage: dlm_controld [-I INSTANCE] [-C CONFIGFS_ROOT] [-S SYSFS_ROOT] [-f 0|1] [-q 0|1]"

    init(_ args: [String]) {
        var rest = args[...]
        func value(_ flag: String) -> String {
            guard let v = rest.popFirst() else { Self.fail("\(flag) needs a value") }
            return v
        }
        func flag(_ flag: String) -> Bool {
            switch value(flag) {
            case "0": return false
            case "1": return true
            case let v: Self.fail("\(flag) takes 0 or 1, not '\(v)'")
            }
        }
        while let a = rest.popFirst() {
            switch a {
            case "-I": instance = value(a)
            case "-C": configfs = value(a)
            case "-S": sysfs = value(a)
            case "-f": fencing = flag(a)
            case "-q": quorum = flag(a)
            case "-h", "--help": print(Self.usage); exit(0)
            default: Self.fail("unknown option '\(a)'")
            }
        }
    }

    static func fail(_ why: String) -> Never {
        ControlDaemonLog.standardError("dlm_controld: \(why)\n\(usage)")
        exit(64)
    }
}

let options = Options(Array(CommandLine.arguments.dropFirst()))
do {
    let instance = try NodeInstance.resolve(instance: options.instance)
    let conf = try ClusterConf.load(instance: instance)
    func setting(_ name: String) -> String? { conf.get("/cluster/dlm/@\(name)") }
    let protocolNumber: Int
    switch setting("protocol") ?? "detect" {
    case "tcp", "detect": protocolNumber = 0
    case "sctp": protocolNumber = 1
    case let p: throw ClusterError(.refused, "\(conf.path): <dlm protocol=\"\(p)\">: expected tcp, sctp or detect")
    }
    guard let timewarn = UInt32(setting("timewarn") ?? "500") else {
        throw ClusterError(.refused, "\(conf.path): <dlm timewarn=>: not a number of centiseconds")
    }
    let fencing = options.fencing ?? (setting("enable_fencing").map { $0 != "0" } ?? true)
    let quorum = options.quorum ?? (setting("enable_quorum").map { $0 != "0" } ?? false)
    let kernel = DLMKernel(configfsRoot: options.configfs, sysfsRoot: options.sysfs, protocolNumber: protocolNumber, timewarn: timewarn)
    let configuration = ControlDaemon<DLMKernel>.Configuration(name: "dlm_controld", groupPrefix: "dlm", level: 1,
                                                              requireFencing: fencing, requireQuorum: quorum, instance: instance)
    configuration.log("dlm_controld: configfs \(kernel.configfs.root), sysfs \(kernel.sysfs.root), fencing \(fencing ? "on" : "off"), quorum \(quorum ? "on" : "off")")
    try await ControlDaemon(configuration, subsystem: kernel).run()
} catch let error as ClusterError {
    ControlDaemonLog.standardError("dlm_controld: \(error.message)")
    exit(1)
} catch {
    ControlDaemonLog.standardError("dlm_controld: \(error)")
    exit(1)
}
