// SPDX-License-Identifier: Apache-2.0
import ClusterTypes

/// Cross-field rules of cluster.conf: references between sections, uniqueness, and quorum settings that cannot work.
struct ConfigValidator {
    let config: ClusterConfiguration
    let sink: DiagnosticSink

    func validate() {
        validateNodes()
        validateQuorum()
        validateFencing()
        if let rm = config.resourceManager { validateResourceManager(rm) }
    }

    private func validateNodes() {
        var byID: [UInt32: ClusterNodeConfig] = [:]
        var byName: [String: ClusterNodeConfig] = [:]
        for node in config.nodes {
            if node.nodeID != 0 {
                if let other = byID[node.nodeID] {
                    sink.error(node.line, "/cluster/clusternodes", "clusternode \"\(node.name)\": nodeid \(node.nodeID) is already used by \"\(other.name)\" (line \(other.line))")
                } else {
                    byID[node.nodeID] = node
                }
            }
            if !node.name.isEmpty {
                if let other = byName[node.name] {
                    sink.error(node.line, "/cluster/clusternodes", "clusternode name \"\(node.name)\" is already used (line \(other.line))")
                } else {
                    byName[node.name] = node
                }
            }
        }
        // Every node needs an address on every ring.
        if let first = config.nodes.first {
            for node in config.nodes.dropFirst() where node.altNames.count != first.altNames.count {
                sink.error(node.line, "/cluster/clusternodes", "clusternode \"\(node.name)\" has \(node.altNames.count) <altname> entries but \"\(first.name)\" has \(first.altNames.count); every node needs an address on every ring")
            }
        }
    }

    private func validateQuorum() {
        let cman = config.cman
        let line = cman.line > 0 ? cman.line : config.document.root.line
        if cman.twoNode {
            if config.nodes.count != 2 {
                sink.error(line, "/cluster/cman", "two_node=\"1\" requires exactly two <clusternode> entries, but \(config.nodes.count) are configured")
            }
            if let ev = cman.expectedVotes, ev != 1 {
                sink.error(line, "/cluster/cman", "two_node=\"1\" requires expected_votes=\"1\", not \(ev)")
            }
            if config.quorumDisk != nil {
                sink.error(line, "/cluster/cman", "two_node=\"1\" cannot be combined with a quorum disk (<quorumd>); set two_node=\"0\" and let the disk's votes break ties")
            }
        }
        if cman.lastManStanding {
            for node in config.nodes where node.votes != 1 {
                sink.error(node.line, "/cluster/clusternodes", "last_man_standing requires every node to have 1 vote; \"\(node.name)\" has \(node.votes)")
            }
        }
        if cman.autoTieBreaker && !cman.waitForAll && !cman.twoNode {
            // Not an error: the rule is built in; the warning says what a node started alone will do.
            sink.warning(line, "/cluster/cman", "auto_tie_breaker: a node breaks a tie only after it has seen every configured node at once since it started (or joined a member that has), as with wait_for_all: a node started while the others are unreachable stays inquorate at an exact half; set wait_for_all=\"1\" to say so")
        }
        if (cman.lastManStanding || cman.autoTieBreaker), let q = config.quorumDisk {
            sink.error(q.line, "/cluster/quorumd", "a quorum disk cannot be combined with last_man_standing or auto_tie_breaker")
        }
        if !cman.twoNode, let ev = cman.expectedVotes, !config.nodes.isEmpty {
            // Quorum is expected/2 + 1. Unless that is more than half of every vote that exists, two disjoint
            // partitions can each hold a quorum from the first start on (sticky quorum cannot help before the nodes
            // have been together once).
            let qdisk = config.quorumDisk.map { $0.votes ?? UInt32(max(config.nodes.count - 1, 1)) } ?? 0
            let all = config.totalConfiguredVotes + qdisk
            let quorum = ev / 2 + 1
            if UInt64(quorum) * 2 <= UInt64(all) {
                sink.error(line, "/cluster/cman", "expected_votes=\"\(ev)\" gives a quorum of \(quorum), not a majority of the \(all) configured votes: two partitions with \(quorum) votes each could both be quorate (split brain); use expected_votes of at least \(all / 2 * 2), or leave it out")
            }
        }
        if config.totalConfiguredVotes == 0 && !config.nodes.isEmpty {
            sink.error(line, "/cluster/clusternodes", "the configured nodes have no votes at all; the cluster could never be quorate")
        }
        if let q = config.quorumDisk {
            if config.nodes.count > 16 {
                sink.error(q.line, "/cluster/quorumd", "a quorum disk supports at most 16 nodes; \(config.nodes.count) are configured")
            }
            for node in config.nodes where node.nodeID > 16 {
                sink.error(node.line, "/cluster/clusternodes", "with a quorum disk node ids must be 1...16; \"\(node.name)\" has \(node.nodeID)")
            }
        }
    }

    private func validateFencing() {
        var seen: [String: Int] = [:]
        for d in config.fenceDevices where !d.name.isEmpty {
            if let first = seen[d.name] {
                sink.error(d.line, "/cluster/fencedevices", "fencedevice name \"\(d.name)\" is already used (line \(first))")
            } else {
                seen[d.name] = d.line
            }
        }
        for node in config.nodes {
            for method in node.fenceMethods {
                for device in method.devices where !device.name.isEmpty && seen[device.name] == nil {
                    sink.error(device.line, "/cluster/clusternodes", "clusternode \"\(node.name)\" fence method \"\(method.name)\" uses device \"\(device.name)\", which is not defined in <fencedevices>")
                }
            }
            for device in node.unfenceDevices where !device.name.isEmpty && seen[device.name] == nil {
                sink.error(device.line, "/cluster/clusternodes", "clusternode \"\(node.name)\" unfence device \"\(device.name)\" is not defined in <fencedevices>")
            }
        }
    }

    private func validateResourceManager(_ rm: ResourceManagerConfig) {
        let nodeNames = Set(config.nodes.map(\.name))
        var domains: [String: Int] = [:]
        for d in rm.failoverDomains {
            if let first = domains[d.name] {
                sink.error(d.line, "/cluster/rm/failoverdomains", "failoverdomain name \"\(d.name)\" is already used (line \(first))")
            }
            domains[d.name] = d.line
            var members = Set<String>()
            for n in d.nodes {
                if !nodeNames.contains(n.name) {
                    sink.error(n.line, "/cluster/rm/failoverdomains", "failoverdomain \"\(d.name)\" names node \"\(n.name)\", which is not a <clusternode>")
                }
                if !members.insert(n.name).inserted {
                    sink.error(n.line, "/cluster/rm/failoverdomains", "failoverdomain \"\(d.name)\" lists node \"\(n.name)\" twice")
                }
            }
        }
        // Shared resources: unique per type and primary value.
        var definitions: [String: Int] = [:]
        for res in rm.resources {
            if res.reference != nil {
                sink.error(res.line, "/cluster/rm/resources", "a definition in <resources> cannot itself use ref= (<\(res.type) ref=\"\(res.reference!)\">)")
                continue
            }
            guard let key = res.primaryValue else {
                sink.error(res.line, "/cluster/rm/resources", "<\(res.type)> in <resources> needs a name= (or address=) so services can refer to it")
                continue
            }
            if let first = definitions["\(res.type):\(key)"] {
                sink.error(res.line, "/cluster/rm/resources", "resource \(res.type):\(key) is defined twice (first on line \(first))")
            } else {
                definitions["\(res.type):\(key)"] = res.line
            }
        }
        var services: [String: Int] = [:]
        for svc in rm.services {
            guard let name = svc[attribute: "name"], !name.isEmpty else {
                sink.error(svc.line, "/cluster/rm", "<\(svc.type)> needs a name= attribute")
                continue
            }
            if let first = services["\(svc.type):\(name)"] {
                sink.error(svc.line, "/cluster/rm", "\(svc.type) \"\(name)\" is defined twice (first on line \(first))")
            }
            services["\(svc.type):\(name)"] = svc.line
        }
        for svc in rm.services {
            validateServiceOptions(svc, domains: domains, services: services)
            validateTree(svc, definitions: definitions, service: svc[attribute: "name"] ?? "?")
        }
    }

    private func validateServiceOptions(_ svc: ResourceNode, domains: [String: Int], services: [String: Int]) {
        let name = svc[attribute: "name"] ?? "?"
        let label = "\(svc.type) \"\(name)\""
        if let d = svc[attribute: "domain"], domains[d] == nil {
            sink.error(svc.line, "/cluster/rm", "\(label) uses failover domain \"\(d)\", which is not defined in <failoverdomains>")
        }
        if let r = svc[attribute: "recovery"], !["restart", "relocate", "disable", "restart-disable"].contains(r) {
            sink.error(svc.line, "/cluster/rm", "\(label): recovery must be restart, relocate or disable, not \"\(r)\"")
        }
        if let m = svc[attribute: "depend_mode"], !["hard", "soft"].contains(m) {
            sink.error(svc.line, "/cluster/rm", "\(label): depend_mode must be hard or soft, not \"\(m)\"")
        }
        if let dep = svc[attribute: "depend"] {
            let target = dep.hasPrefix("service:") ? dep : "service:\(dep)"
            if services[target] == nil {
                sink.error(svc.line, "/cluster/rm", "\(label) depends on \"\(dep)\", which is not a defined service")
            }
        }
        for flag in ["autostart", "exclusive", "hardrecovery", "nfslock"] {
            if let v = svc[attribute: flag], ElementReader.parseBool(v) == nil {
                sink.error(svc.line, "/cluster/rm", "\(label): \(flag) must be 0 or 1, not \"\(v)\"")
            }
        }
        for number in ["max_restarts", "restart_expire_time", "priority"] {
            if let v = svc[attribute: number], ElementReader.parseUnsigned(v) == nil {
                sink.error(svc.line, "/cluster/rm", "\(label): \(number) must be a non-negative integer, not \"\(v)\"")
            }
        }
    }

    private func validateTree(_ node: ResourceNode, definitions: [String: Int], service: String) {
        for child in node.children {
            if let ref = child.reference {
                if definitions["\(child.type):\(ref)"] == nil {
                    sink.error(child.line, "/cluster/rm", "service \"\(service)\": <\(child.type) ref=\"\(ref)\"> refers to a resource that is not defined in <resources>")
                }
            } else if ResourceManagerConfig.rootTypes.contains(child.type) == false, child.primaryValue == nil, child.attributes.isEmpty {
                sink.warning(child.line, "/cluster/rm", "service \"\(service)\": <\(child.type)> has no attributes")
            }
            for attr in child.attributes where attr.name.hasPrefix("__") {
                let numeric = ["__max_restarts", "__restart_expire_time", "__max_failures", "__failure_expire_time"]
                if numeric.contains(attr.name), ElementReader.parseUnsigned(attr.value) == nil {
                    sink.error(child.line, "/cluster/rm", "service \"\(service)\": \(attr.name) on <\(child.type)> must be a non-negative integer, not \"\(attr.value)\"")
                }
            }
            validateTree(child, definitions: definitions, service: service)
        }
    }
}
