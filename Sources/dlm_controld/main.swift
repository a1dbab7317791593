// SPDX-License-Identifier: Apache-2.0
// dlm_controld: tells the kernel DLM the cluster's nodes through configfs and runs every lockspace's membership
// and recovery (a failed member is fenced before the lockspace recovers), on the ClusterClient SDK only.
//
//   dlm_controld [-I INSTANCE] [-C CONFIGFS] [-S SYSFS] [-f 0|1] [-q 0|1] [-u 0|1]
//
// Lockspaces are joined and left at the kernel's request (its online/offline uevents; -u, on by default with the
// real sysfs) and with dlm_tool (dlm_tool join NAME). <dlm> in cluster.conf sets protocol, timewarn,
// enable_fencing and enable_quorum; -f and -q override the last two.
import ClusterClient
import Glibc

struct Options {
    var instance: String?
    var configfs = "/sys/kernel/config"
    var sysfs = "/sys/kernel"
    var fencing: Bool?
    var quorum: Bool?
    /// Listen for the kernel's lockspace uevents; by default only when sysfs is the kernel's (several daemons of a
    /// local cluster on one host would all hear the same events).
    var uevents: Bool?

    static let usage = "usage: dlm_controld [-I INSTANCE] [-C CONFIGFS_ROOT] [-S SYSFS_ROOT] [-f 0|1] [-q 0|1] [-u 0|1]"

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
            case "-u": uevents = flag(a)
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

/// What cluster.conf's `<dlm>` says, or exit 78 (EX_CONFIG: restarting will not help) naming what is wrong.
struct Settings {
    var protocolNumber = 0
    var timewarn: UInt32 = 500
    var fencing = true
    var quorum = false

    init(_ instance: NodeInstance, _ options: Options) {
        let conf: ClusterConf
        do { conf = try ClusterConf.load(instance: instance) } catch { Self.fail(error.message) }
        func setting(_ name: String) -> String? { conf.get("/cluster/dlm/@\(name)") }
        switch setting("protocol") ?? "detect" {
        case "tcp", "detect": protocolNumber = 0
        case "sctp": protocolNumber = 1
        case let p: Self.fail("\(conf.path): <dlm protocol=\"\(p)\">: expected tcp, sctp or detect")
        }
        if let t = setting("timewarn") {
            guard let v = UInt32(t) else { Self.fail("\(conf.path): <dlm timewarn=\"\(t)\">: not a number of centiseconds") }
            timewarn = v
        }
        fencing = options.fencing ?? Self.bool(setting("enable_fencing"), "enable_fencing", conf, default: true)
        quorum = options.quorum ?? Self.bool(setting("enable_quorum"), "enable_quorum", conf, default: false)
    }

    static func bool(_ value: String?, _ name: String, _ conf: ClusterConf, default d: Bool) -> Bool {
        switch value {
        case nil: return d
        case "0": return false
        case "1": return true
        case let v?: fail("\(conf.path): <dlm \(name)=\"\(v)\">: expected 0 or 1")
        }
    }

    static func fail(_ why: String) -> Never {
        ControlDaemonLog.standardError("dlm_controld: \(why)")
        exit(78)
    }
}

let options = Options(Array(CommandLine.arguments.dropFirst()))
let instance: NodeInstance
do { instance = try NodeInstance.resolve(instance: options.instance) } catch { Settings.fail("\(error)") }
let settings = Settings(instance, options)
let kernel = DLMKernel(configfsRoot: options.configfs, sysfsRoot: options.sysfs, protocolNumber: settings.protocolNumber,
                       timewarn: settings.timewarn)
let configuration = ControlDaemon<DLMKernel>.Configuration(name: "dlm_controld", groupPrefix: "dlm", level: 1,
                                                          requireFencing: settings.fencing, requireQuorum: settings.quorum,
                                                          instance: instance)
let listenForUEvents = options.uevents ?? (options.sysfs == "/sys/kernel")
configuration.log("dlm_controld: configfs \(kernel.configfs.root), sysfs \(kernel.sysfs.root), "
    + "fencing \(settings.fencing ? "on" : "off"), quorum \(settings.quorum ? "on" : "off"), "
    + "kernel uevents \(listenForUEvents ? "on" : "off")")
do {
    var requests: AsyncStream<ControlGroupRequest>?
    var listener: KernelUEventListener?
    if listenForUEvents {
        do {
            let l = try KernelUEventListener()
            requests = DLMUEvents.requests(from: l, log: configuration.log)
            listener = l
        } catch {
            // Without the DLM module nothing would come; with it (or when asked with -u 1) the kernel's joins would
            // wait forever, so that is fatal.
            guard options.uevents == nil, access(options.sysfs + "/dlm", F_OK) != 0 else { throw error }
            configuration.log("dlm_controld: not listening for kernel uevents (\(error.message)); lockspaces are joined with dlm_tool only")
        }
    }
    try await ControlDaemon(configuration, subsystem: kernel).run(requests: requests)
    withExtendedLifetime(listener) {}
} catch let error as ClusterError {
    ControlDaemonLog.standardError("dlm_controld: \(error.message)")
    exit(1)
} catch {
    ControlDaemonLog.standardError("dlm_controld: \(error)")
    exit(1)
}
