// SPDX-License-Identifier: Apache-2.0
import ClusterTypes

extension ResourceManager {
    /// What clustat shows: the cluster, its quorum, the members and the service table. The formatters below print it
    /// as clustat's text (REFERENCE §1i), its `-l` long form, its `-x` XML, and as JSON.
    public struct ClusterStatus: Sendable, Hashable {
        public var clusterName: String
        public var clusterID: UInt32
        public var generation: UInt64
        public var quorate: Bool
        /// This node's rgmanager is in the group (XML `groupmember`).
        public var groupMember: Bool
        /// When the status was taken (wall-clock seconds).
        public var time: UInt64
        public var members: [Member]
        public var services: [Service]

        public init(clusterName: String, clusterID: UInt32, generation: UInt64, quorate: Bool, groupMember: Bool, time: UInt64,
                    members: [Member], services: [Service]) {
            self.clusterName = clusterName
            self.clusterID = clusterID
            self.generation = generation
            self.quorate = quorate
            self.groupMember = groupMember
            self.time = time
            self.members = members
            self.services = services
        }

        /// One member line.
        public struct Member: Sendable, Hashable {
            public var name: String
            public var id: NodeID
            public var online: Bool
            public var local = false
            /// In the membership but not in cluster.conf.
            public var estranged = false
            public var rgmanager = false
            public var rgmanagerMaster = false
            public var quorumDisk = false
            public init(name: String, id: NodeID, online: Bool) {
                self.name = name
                self.id = id
                self.online = online
            }
        }

        /// One service line.
        public struct Service: Sendable, Hashable {
            /// `service:NAME`.
            public var name: String
            public var state: ServiceState
            public var flags: ServiceFlags
            public var owner: NodeID?
            public var lastOwner: NodeID?
            public var restarts: UInt32
            public var lastTransition: UInt64
            public init(name: String, state: ServiceState, flags: ServiceFlags = [], owner: NodeID?, lastOwner: NodeID?, restarts: UInt32 = 0,
                        lastTransition: UInt64 = 0) {
                self.name = name
                self.state = state
                self.flags = flags
                self.owner = owner
                self.lastOwner = lastOwner
                self.restarts = restarts
                self.lastTransition = lastTransition
            }
        }

        /// The service lines of an agreed table, sorted by name.
        public static func services(_ table: [String: Record]) -> [Service] {
            table.keys.sorted().map { n in
                let r = table[n]!
                return Service(name: "service:\(n)", state: r.state, flags: r.flags, owner: r.owner, lastOwner: r.lastOwner,
                               restarts: r.restarts, lastTransition: r.lastTransition)
            }
        }

        /// clustat's name for a node id: `none` for no node, `unknown` for one not listed.
        public func memberName(_ id: NodeID?) -> String {
            guard let id else { return "none" }
            return members.first { $0.id == id }?.name ?? "unknown"
        }
    }
}

// MARK: - Text

extension ResourceManager.ClusterStatus {
    /// clustat's default output for a terminal `columns` wide (field widths as clustat computes them); clustat's
    /// `-s` leaves out the member table (`showMembers`), its `-m` the service table (`showServices`).
    public func text(columns: Int = 80, showMembers: Bool = true, showServices: Bool = true, formatTime: (UInt64) -> String = Self.ctime) -> String {
        var out = "Cluster Status for \(clusterName) @ \(formatTime(time))\n"
        out += "Member Status: \(quorate ? "Quorate" : "Inquorate")\n\n"
        if showMembers { out += memberTable(columns: columns) }
        guard showServices, !services.isEmpty else { return out }
        return out + serviceTable(columns: columns)
    }

    func memberTable(columns: Int) -> String {
        var out = ""
        let nodeSize = min(columns / 2, 64)
        out += " " + fit("Member Name", nodeSize) + fit("ID", 4) + " Status\n"
        out += " " + fit("------ ----", nodeSize) + fit("----", 4) + " ------\n"
        let master = members.contains { $0.rgmanagerMaster }
        for m in members {
            var status = m.online ? "Online" : "Offline"
            if m.local { status += ", Local" }
            if m.estranged { status += ", Estranged" }
            if m.rgmanager { status += master ? (m.rgmanagerMaster ? ", RG-Master" : ", RG-Worker") : ", rgmanager" }
            if m.quorumDisk { status += ", Quorum Disk" }
            out += " " + fit(m.name, nodeSize) + " " + rightAligned(String(m.id.rawValue), 4) + " " + status + "\n"
        }
        return out + "\n"
    }

    func serviceTable(columns: Int) -> String {
        var out = ""
        let stat = 14
        let svc = min((columns - (stat + 6)) / 2, 64)
        out += " " + fit("Service Name", svc) + " " + fit("Owner (Last)", svc) + " " + fit("State", stat) + "\n"
        out += " " + fit("------- ----", svc) + " " + fit("----- ------", svc) + " " + fit("-----", stat) + "\n"
        for s in services {
            let owner: String
            switch s.state {
            case .stopped, .disabled, .recoverable, .failed: owner = "(" + String(memberName(s.lastOwner).prefix(svc - 2)) + ")"
            default: owner = memberName(s.owner)
            }
            let letters = s.flags.letters
            let state = letters.isEmpty ? fit(s.state.description, stat)
                : fit(s.state.description, stat - 2 - letters.count) + "[\(letters)]"
            out += " " + fit(s.name, svc) + " " + fit(owner, svc) + " " + fit(state, stat) + "\n"
        }
        return out
    }

    /// clustat's long service form (`-l`).
    public func longText(formatTime: (UInt64) -> String = Self.ctime) -> String {
        var out = "Service Information\n------- -----------\n\n"
        for s in services {
            out += "Service Name      : \(s.name)\n"
            out += "  Current State   : \(s.state) (\(s.state.rawValue))\n"
            out += s.flags.isEmpty ? "  Flags           : none (0)\n" : "  Flags           : \(s.flags.words) (\(s.flags.rawValue))\n"
            out += "  Owner           : \(memberName(s.owner))\n"
            out += "  Last Owner      : \(memberName(s.lastOwner))\n"
            out += "  Last Transition : \(formatTime(s.lastTransition))\n\n"
        }
        return out
    }

    func fit(_ s: String, _ width: Int) -> String {
        let cut = String(s.prefix(max(0, width)))
        return cut + String(repeating: " ", count: max(0, width - cut.count))
    }

    func rightAligned(_ s: String, _ width: Int) -> String { String(repeating: " ", count: max(0, width - s.count)) + s }

    /// `ctime` in UTC without the newline: `Thu Nov 26 04:15:06 2026`.
    public static func ctime(_ seconds: UInt64) -> String {
        let days = Int64(seconds / 86_400), rem = Int(seconds % 86_400)
        // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yoe + era * 400 + (month <= 2 ? 1 : 0)
        let weekday = Int((days % 7 + 11) % 7)
        let names = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func two(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }
        let d = day < 10 ? " \(day)" : "\(day)"
        return "\(names[weekday]) \(months[Int(month) - 1]) \(d) \(two(rem / 3600)):\(two(rem / 60 % 60)):\(two(rem % 60)) \(year)"
    }
}

// MARK: - XML and JSON

extension ResourceManager.ClusterStatus {
    /// clustat `-x`.
    public func xml(formatTime: (UInt64) -> String = Self.ctime) -> String {
        var out = "<?xml version=\"1.0\"?>\n<clustat version=\"4.1.1\">\n"
        out += "  <cluster name=\"\(escape(clusterName))\" id=\"\(clusterID)\" generation=\"\(generation)\"/>\n"
        out += "  <quorum quorate=\"\(quorate ? 1 : 0)\" groupmember=\"\(groupMember ? 1 : 0)\"/>\n"
        out += "  <nodes>\n"
        for m in members {
            let id = String(m.id.rawValue, radix: 16)
            out += "    <node name=\"\(escape(m.name))\" state=\"\(m.online ? 1 : 0)\" local=\"\(m.local ? 1 : 0)\" estranged=\"\(m.estranged ? 1 : 0)\""
                + " rgmanager=\"\(m.rgmanager ? 1 : 0)\" rgmanager_master=\"\(m.rgmanagerMaster ? 1 : 0)\" qdisk=\"\(m.quorumDisk ? 1 : 0)\""
                + " nodeid=\"0x\(String(repeating: "0", count: max(0, 8 - id.count)) + id)\"/>\n"
        }
        out += "  </nodes>\n  <groups>\n"
        for s in services {
            out += "    <group name=\"\(escape(s.name))\" state=\"\(s.state.rawValue)\" state_str=\"\(s.state)\" flags=\"\(s.flags.rawValue)\""
                + " flags_str=\"\(s.flags.words.replacingCommas())\" owner=\"\(escape(memberName(s.owner)))\" last_owner=\"\(escape(memberName(s.lastOwner)))\""
                + " restarts=\"\(s.restarts)\" last_transition=\"\(s.lastTransition)\" last_transition_str=\"\(formatTime(s.lastTransition))\"/>\n"
        }
        out += "  </groups>\n</clustat>\n"
        return out
    }

    /// The same as JSON (keys sorted, two-space indentation).
    public func json() -> String {
        func str(_ s: String) -> String { "\"" + jsonEscape(s) + "\"" }
        let memberLines = members.map { m in
            "    {\"estranged\": \(m.estranged), \"id\": \(m.id.rawValue), \"local\": \(m.local), \"name\": \(str(m.name)), \"online\": \(m.online), "
                + "\"quorumDisk\": \(m.quorumDisk), \"rgmanager\": \(m.rgmanager), \"rgmanagerMaster\": \(m.rgmanagerMaster)}"
        }
        let serviceLines = services.map { s in
            "    {\"flags\": [\(s.flags.words.split(separator: ",").map { str(String($0).trimmingWhitespace) }.joined(separator: ", "))], "
                + "\"lastOwner\": \(s.lastOwner.map { str(memberName($0)) } ?? "null"), \"lastTransition\": \(s.lastTransition), \"name\": \(str(s.name)), "
                + "\"owner\": \(s.owner.map { str(memberName($0)) } ?? "null"), \"restarts\": \(s.restarts), \"state\": \(str(s.state.description)), "
                + "\"stateCode\": \(s.state.rawValue)}"
        }
        return "{\n  \"cluster\": {\"generation\": \(generation), \"id\": \(clusterID), \"name\": \(str(clusterName))},\n"
            + "  \"members\": [\n" + memberLines.joined(separator: ",\n") + (members.isEmpty ? "" : "\n") + "  ],\n"
            + "  \"quorum\": {\"groupMember\": \(groupMember), \"quorate\": \(quorate)},\n"
            + "  \"services\": [\n" + serviceLines.joined(separator: ",\n") + (services.isEmpty ? "" : "\n") + "  ],\n"
            + "  \"time\": \(time)\n}\n"
    }

    func escape(_ s: String) -> String {
        var out = ""
        for c in s {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            default: out.append(c)
            }
        }
        return out
    }

    func jsonEscape(_ s: String) -> String {
        var out = ""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 {
                    let hex = String(u.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        return out
    }
}

extension String {
    /// clustat's XML flags_str separates flag words with spaces.
    func replacingCommas() -> String { split(separator: ",").map { String($0).trimmingWhitespace }.joined(separator: " ") }
}
