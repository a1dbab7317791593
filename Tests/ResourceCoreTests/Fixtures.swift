// SPDX-License-Identifier: Apache-2.0
import ClusterConfigModel
import ResourceCore

typealias Rule = ResourceManager.Rule
typealias P = ResourceManager.Rule.Parameter

/// Rules with the shape of the shipped agents' metadata (agents/*.sh), enough for tree and order tests.
enum Fixtures {
    static let serviceChildren: [Rule.ChildType] = [
        .init(type: "lvm", start: 1, stop: 9), .init(type: "fs", start: 2, stop: 8), .init(type: "clusterfs", start: 3, stop: 7),
        .init(type: "netfs", start: 4, stop: 6), .init(type: "nfsexport", start: 5, stop: 5), .init(type: "nfsclient", start: 6, stop: 4),
        .init(type: "ip", start: 7, stop: 2), .init(type: "smb", start: 8, stop: 3), .init(type: "script", start: 9, stop: 1),
    ]
    static let fsChildren: [Rule.ChildType] = [
        .init(type: "fs", start: 1, stop: 3), .init(type: "clusterfs", start: 1, stop: 3), .init(type: "nfsexport", start: 3, stop: 1),
    ]

    static let rules: [String: Rule] = {
        var r: [String: Rule] = [:]
        r["service"] = Rule(type: "service", parameters: [
            P("name", primary: true, unique: true, required: true), P("domain"), P("autostart", defaultValue: "1"),
            P("hardrecovery", defaultValue: "0"), P("exclusive", defaultValue: "0"), P("nfslock", defaultValue: "0"),
            P("nfs_client_cache", defaultValue: "0"), P("recovery", defaultValue: "restart"), P("depend"),
            P("depend_mode", defaultValue: "hard"), P("max_restarts", defaultValue: "0"), P("restart_expire_time", defaultValue: "0"),
            P("priority", defaultValue: "0"),
        ], actions: [.init(name: "start", timeout: .seconds(5)), .init(name: "status", timeout: .seconds(5), interval: .seconds(3600))],
           children: serviceChildren, maxInstances: 1, isRoot: true)
        r["ip"] = Rule(type: "ip", parameters: [
            P("address", primary: true, unique: true), P("family"), P("monitor_link", defaultValue: "1"),
            P("nfslock", inherit: "service%nfslock"), P("sleeptime"),
        ], actions: [.init(name: "start", timeout: .seconds(20)), .init(name: "status", timeout: .seconds(10), interval: .seconds(20)),
                     .init(name: "status", timeout: .seconds(20), interval: .seconds(60), depth: 10)],
           children: [.init(type: "nfsclient", forbidden: true), .init(type: "nfsexport", forbidden: true)], maxInstances: 1)
        r["fs"] = Rule(type: "fs", parameters: [
            P("name", primary: true), P("mountpoint", unique: true, required: true), P("device", unique: true, required: true),
            P("fstype"), P("force_unmount"), P("quick_status"), P("self_fence"), P("nfslock", inherit: "nfslock"), P("fsid"),
            P("force_fsck"), P("options"),
        ], actions: [.init(name: "start", timeout: .seconds(900)), .init(name: "stop", timeout: .seconds(30))],
           children: fsChildren, maxInstances: 1)
        r["clusterfs"] = Rule(type: "clusterfs", parameters: [P("name", primary: true), P("mountpoint", required: true), P("device", required: true)],
                              children: fsChildren)
        r["drbd"] = Rule(type: "drbd", parameters: [P("name", primary: true, unique: true), P("resource", unique: true, required: true)],
                         maxInstances: 1)
        r["script"] = Rule(type: "script", parameters: [
            P("name", primary: true, unique: true), P("file", unique: true, required: true), P("service_name", inherit: "service%name"),
        ], actions: [.init(name: "start", timeout: .zero), .init(name: "status", timeout: .zero, interval: .seconds(30))])
        r["nfsexport"] = Rule(type: "nfsexport", parameters: [
            P("name", primary: true), P("device", inherit: "device"), P("path", inherit: "mountpoint"), P("fsid", inherit: "fsid"),
        ], children: [.init(type: "nfsexport", forbidden: true), .init(type: "nfsclient")])
        r["nfsclient"] = Rule(type: "nfsclient", parameters: [
            P("name", primary: true, unique: true), P("target", required: true), P("path", inherit: "path"),
        ])
        r["lvm"] = Rule(type: "lvm", parameters: [P("name", primary: true), P("vg_name", required: true)], maxInstances: 1)
        r["apache"] = Rule(type: "apache", parameters: [P("name", primary: true), P("service_name", inherit: "service%name")])
        return r
    }()

    static func node(_ type: String, _ attrs: KeyValuePairs<String, String>, line: Int = 0, _ children: [ResourceNode] = []) -> ResourceNode {
        ResourceNode(type: type, attributes: attrs.map { XMLAttribute($0.key, $0.value) }, children: children, line: line)
    }

    /// Seed 001's `<rm>` (etc/examples/postgres-drbd.conf), with its line numbers.
    static var postgres: ResourceManagerConfig {
        var rm = ResourceManagerConfig()
        rm.services = [
            node("service", ["name": "database", "recovery": "relocate"], line: 28, [
                node("service", ["name": "dbnode"], line: 30, [
                    node("ip", ["address": "10.80.4.200/22", "monitor_link": "1"], line: 31),
                    node("drbd", ["name": "dbdev", "resource": "dbdev"], line: 32, [
                        node("fs", ["name": "dbfs", "device": "/dev/drbd0", "mountpoint": "/var/lib/pgsql/clusterdata", "fstype": "ext3",
                                    "options": "noatime"], line: 33),
                    ]),
                ]),
                node("service", ["name": "dbms"], line: 37, [
                    node("script", ["name": "postgresql", "file": "/etc/init.d/postgresql-cluster"], line: 38),
                ]),
            ]),
        ]
        return rm
    }
}
