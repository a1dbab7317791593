// SPDX-License-Identifier: Apache-2.0

extension ControlLoop {
    /// One request of the administrative socket.
    mutating func admin(_ request: ControlSocket.Request) throws {
        let w = request.words
        switch (w.first ?? "", w.count) {
        case ("join", 2):
            try join(try Self.validName(w[1]))
            request.reply("joining \(w[1])\n")
        case ("leave", 2):
            try leave(w[1])
            request.reply("leaving \(w[1])\n")
        case ("ls", 1):
            request.reply(ControlListing.groups(groupRows(), json: false))
        case ("ls", 2) where w[1] == "json" || w[1] == "--json":
            request.reply(ControlListing.groups(groupRows(), json: true))
        case ("nodes", 1):
            request.reply(ControlListing.nodes(nodeRows(), json: false))
        case ("nodes", 2) where w[1] == "json" || w[1] == "--json":
            request.reply(ControlListing.nodes(nodeRows(), json: true))
        case ("pin", 3):
            guard let n = UInt32(w[1]) else { throw ClusterError(.refused, "pin: '\(w[1])' is not a node id") }
            let holder = try Self.validName(w[2])
            cluster.topology.pin(NodeID(n), by: holder)
            configuration.log("node \(n) pinned by \(holder)")
            request.reply("node \(n) pinned by \(holder)\n")
        case ("unpin", 3):
            guard let n = UInt32(w[1]) else { throw ClusterError(.refused, "unpin: '\(w[1])' is not a node id") }
            guard cluster.topology.pinned(NodeID(n)).contains(w[2]) else {
                throw ClusterError(.refused, "node \(n) is not pinned by \(w[2])")
            }
            let changes = cluster.topology.unpin(NodeID(n), by: w[2])
            configuration.log("node \(n) released by \(w[2])")
            for c in changes { configuration.log(c.description) }
            if !changes.isEmpty { try subsystem.apply(changes, cluster: cluster) }
            request.reply("node \(n) released by \(w[2])\(changes.isEmpty ? "" : "; removed")\n")
        default:
            if let body = try subsystem.handle(request: w, cluster: cluster) {
                request.reply(body)
            } else {
                request.fail("unknown request '\(w.joined(separator: " "))' (join NAME, leave NAME, ls [json], nodes [json], pin NODE HOLDER, unpin NODE HOLDER)")
            }
        }
    }

    /// A join or leave from outside the socket (the kernel's uevents); a failure is logged and handed to the
    /// subsystem, which tells the requester.
    mutating func handle(_ request: ControlGroupRequest) throws {
        configuration.log("request: \(request)")
        do {
            switch request {
            case .join(let name): try join(try Self.validName(name))
            case .leave(let name): try leave(name)
            }
        } catch let error as ClusterError {
            configuration.log("request \(request) refused: \(error.message)")
            try subsystem.refused(request, error: error)
        }
    }

    /// Group and holder names: letters, digits, `_ . -`, at most 64 bytes (they become directory names).
    static func validName(_ name: String) throws(ClusterError) -> String {
        let ok = !name.isEmpty && name.utf8.count <= 64 && name != "." && name != ".."
            && name.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x41...0x5a).contains($0) || (0x61...0x7a).contains($0) || $0 == 0x5f || $0 == 0x2e || $0 == 0x2d }
        guard ok else { throw ClusterError(.refused, "'\(name)' is not a valid name (letters, digits, _ . -; at most 64)") }
        return name
    }

    mutating func join(_ name: String) throws {
        guard machines[name] == nil else { throw ClusterError(.exists, "\(name) is already joined") }
        var machine = Control.GroupStateMachine(name: name, level: configuration.level, me: me,
                                                requireQuorum: configuration.requireQuorum, requireFencing: configuration.requireFencing)
        _ = machine.handle(.quorum(cluster.quorate), at: Self.now())
        _ = machine.handle(.fenceTimes(fenceTimes), at: Self.now())
        machines[name] = machine
        try subsystem.created(group: name)
        var failure: ClusterError?
        do { try groups.join(fullName(name)) } catch let e { failure = e }
        if let failure {
            guard failure.code == .tryAgain || failure.code == .busy else {
                machines[name] = nil
                try subsystem.removed(group: name)
                throw failure
            }
            pendingJoins.insert(name)
        }
        configuration.log("group \(name): joining")
        try refreshLevels()
    }

    mutating func leave(_ name: String) throws {
        if pendingJoins.remove(name) != nil {
            machines[name] = nil
            try subsystem.removed(group: name)
            return
        }
        guard machines[name] != nil else { throw ClusterError(.notMember, "\(name) is not joined") }
        try feed(name, .leave)
    }

    func groupRows() -> [ControlListing.Group] {
        machines.keys.sorted().map { name in
            let m = machines[name]!
            return ControlListing.Group(name: name, level: m.level, phase: pendingJoins.contains(name) ? "join" : m.phase.rawValue,
                                        waiting: m.waiting.description, members: m.memberNodes.map(\.rawValue), recoveries: m.recoveries)
        }
    }

    func nodeRows() -> [ControlListing.Node] {
        cluster.topology.nodes.keys.sorted().map { id in
            let n = cluster.topology.nodes[id]!
            return ControlListing.Node(id: id.rawValue, name: n.name, address: n.address, local: id == cluster.localNode,
                                       leaving: cluster.topology.leaving.contains(id), pinnedBy: cluster.topology.pinned(id))
        }
    }
}

/// What `ls` and `nodes` print, as text for people and JSON for programs.
enum ControlListing {
    struct Group {
        var name: String, level: Int, phase: String, waiting: String, members: [UInt32], recoveries: Int
    }

    struct Node {
        var id: UInt32, name: String, address: String, local: Bool, leaving: Bool, pinnedBy: [String]
    }

    static func groups(_ rows: [Group], json: Bool) -> String {
        if json {
            let items = rows.map { g in
                "{\"name\":\(quote(g.name)),\"level\":\(g.level),\"phase\":\(quote(g.phase)),\"waiting\":\(quote(g.waiting)),"
                    + "\"members\":[\(g.members.map(String.init).joined(separator: ","))],\"recoveries\":\(g.recoveries)}"
            }
            return "[" + items.joined(separator: ",") + "]\n"
        }
        return rows.map { g in
            [("name", g.name), ("level", "\(g.level)"), ("phase", g.phase), ("waiting", g.waiting),
             ("members", g.members.map(String.init).joined(separator: " ")), ("recoveries", "\(g.recoveries)")]
                .map { $0.0.padding(14) + $0.1 }.joined(separator: "\n") + "\n"
        }.joined(separator: "\n")
    }

    static func nodes(_ rows: [Node], json: Bool) -> String {
        if json {
            let items = rows.map { n in
                "{\"nodeid\":\(n.id),\"name\":\(quote(n.name)),\"address\":\(quote(n.address)),\"local\":\(n.local),"
                    + "\"leaving\":\(n.leaving),\"pinned_by\":[\(n.pinnedBy.map(quote).joined(separator: ","))]}"
            }
            return "[" + items.joined(separator: ",") + "]\n"
        }
        var lines = ["Node  Name".padding(24) + "Address".padding(18) + "State"]
        for n in rows {
            var state = n.leaving ? "left, held" : (n.local ? "member, local" : "member")
            if !n.pinnedBy.isEmpty { state += " (pinned by \(n.pinnedBy.joined(separator: ", ")))" }
            lines.append((String(n.id).padding(6) + n.name).padding(24) + n.address.padding(18) + state)
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// A JSON string literal.
    static func quote(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case _ where u.value < 0x20: out += "\\u" + String(repeating: "0", count: 4 - String(u.value, radix: 16).count) + String(u.value, radix: 16)
            default: out.unicodeScalars.append(u)
            }
        }
        return out + "\""
    }
}

extension String {
    fileprivate func padding(_ width: Int) -> String { count >= width ? self + " " : self + String(repeating: " ", count: width - count) }
}
