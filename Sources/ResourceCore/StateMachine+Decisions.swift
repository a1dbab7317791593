// SPDX-License-Identifier: Apache-2.0
import ClusterTypes

extension ResourceManager.StateMachine {
    // MARK: - The coordinator

    /// Placement and recovery, on the coordinator only, as changes multicast to everyone.
    mutating func decide() {
        let anyFence = settings.mutations.contains(.recoverWithoutFencing)
        // A configured node outside the view may hold anything: nothing is placed until it is fenced (as cman's
        // fence domain blocks recovery, and fences absent nodes at startup).
        let unfenced = settings.configuredNodes.filter { !members.contains($0) && !fenced.contains($0) }
        if !anyFence && !unfenced.isEmpty {
            if waitNoticeView != view {
                waitNoticeView = view
                notice("Waiting for \(unfenced.map { "node \($0)" }.joined(separator: ", ")) to be fenced before placing services")
            }
            return
        }
        // Placement sees the changes proposed in this pass too (they are not applied yet), so two services placed
        // together respect exclusive and load.
        var planned = table
        // Only members that say they are quorate, and are not locked (clusvcadm -l), can start anything.
        let able = ableMembers
        for name in specs.keys.sorted() {
            guard let spec = specs[name], var r = table[name], sent[name] != r.generation else { continue }
            if r.flags.contains(.frozen) { continue }
            // A service some member's configuration lacks (a reload in progress) is left as it is: that member
            // could neither run it nor apply its changes.
            guard everyMemberDefines(name) else { continue }
            let before = r
            if let o = r.owner, !members.contains(o) {
                // The owner is gone: only once it (and anyone else who may hold it) is fenced.
                guard anyFence || Set(r.waitingFor + [o]).isSubset(of: fenced) else { continue }
                notice("Taking over service:\(name) from down member \(o)")
                r.owner = nil
                r.lastOwner = o
                r.waitingFor = []
                r.intent = .none
                if r.state != .failed && r.state != .disabled { r.state = .stopped }
            }
            if !r.waitingFor.isEmpty {
                guard anyFence || Set(r.waitingFor).isSubset(of: fenced) else { continue }
                r.waitingFor = []
            }
            r.failedOn.removeAll { !members.contains($0) }
            switch r.state {
            case .stopped where r.owner == nil && !r.held && dependencyMet(spec):
                let avoid = Set(r.failedOn)
                if let t = ResourceManager.Placement.target(for: spec, members: able, table: planned, specs: specs, avoid: avoid,
                                                          preferred: r.preferred) {
                    r.state = .starting
                    r.owner = t
                    r.intent = .none
                } else if !r.failedOn.isEmpty && before.owner == nil {
                    notice("service:\(name) failed to start on every allowed member; it stays stopped")
                    r.failedOn = []
                    r.held = true
                }
            case .started:
                guard let o = r.owner else { break }
                if let d = spec.depend, !spec.dependIsSoft, table[d]?.state != .started {
                    notice("Stopping service:\(name): it depends on service:\(d), which is not running")
                    r.state = .stopping
                    r.intent = .none
                } else if let t = ResourceManager.Placement.failback(for: spec, owner: o, members: able, table: planned, specs: specs),
                          t != o, failbackTo.contains(t) {
                    notice("Relocating service:\(name) to its preferred member \(t)")
                    r.state = .stopping
                    r.intent = .relocate(t)
                }
            default:
                break
            }
            if r != before {
                propose(name, r)
                planned[name] = r
            }
        }
        failbackTo = []
    }

    /// Where the coordinator would start `service` now, if it is stopped: nil when no member may run it (restricted
    /// domain, exclusive, unmet dependency, failed everywhere).
    public func placementTarget(for service: String) -> NodeID? {
        guard let spec = specs[service], let r = table[service], dependencyMet(spec) else { return nil }
        return ResourceManager.Placement.target(for: spec, members: ableMembers, table: table, specs: specs,
                                                avoid: Set(r.failedOn), preferred: r.preferred)
    }

    func dependencyMet(_ spec: ResourceManager.ServiceSpec) -> Bool {
        guard let d = spec.depend else { return true }
        return table[d]?.state == .started
    }

    // MARK: - Administrators

    /// A request from this node's admin client: checked here, then multicast so every member applies it alike.
    mutating func request(_ id: UInt64, _ r: ResourceManager.AdminRequest) {
        func refuse(_ why: String) { output.effects.append(.reply(id: id, .refused(why))) }
        guard !leaving else { return refuse("rgmanager on this node is shutting down") }
        guard quorate else { return refuse("the cluster is not quorate") }
        guard synced, let view else { return refuse("rgmanager is synchronising its service table; try again") }
        guard specs[r.service] != nil else { return refuse("service:\(r.service) does not exist") }
        pendingRequests.append(id)
        multicast(.admin(view: view, origin: nodeID, requestID: id, request: r, time: wallSeconds))
    }

    /// Applies an admin request to the table (every member alike).
    mutating func applyAdmin(_ req: ResourceManager.AdminRequest, time: UInt64) -> ResourceManager.AdminResult {
        let name = req.service
        guard var r = table[name] else { return .refused("service:\(name) does not exist") }
        if r.flags.contains(.frozen), req != .unfreeze(service: name) { return .refused("service:\(name) is frozen") }
        let running = r.owner.map(members.contains) ?? false && r.state.holdsResources
        switch req {
        case .enable, .relocate, .restart:
            if let missing = members.first(where: { memberServices[$0]?.contains(name) != true }) {
                return .refused("service:\(name) is not in the configuration of node \(missing) (config version "
                                + "\(memberConfigVersion[missing].map(String.init) ?? "unknown")); reload cluster.conf there first")
            }
        default: break
        }
        func lockedRefusal(_ n: NodeID) -> ResourceManager.AdminResult {
            .refused("member \(n) is locked (clusvcadm -l): it starts no service until unlocked (clusvcadm -u)")
        }
        switch req {
        case .enable(_, let target):
            if let t = target, !members.contains(t) { return .refused("member \(t) is not running rgmanager") }
            if let t = target, memberLocked[t] == true { return lockedRefusal(t) }
            switch r.state {
            case .disabled, .stopped:
                r.state = .stopped
                r.held = false
                r.failedOn = []
                r.preferred = target
            case .failed:
                return .refused("service:\(name) is failed; disable it first")
            default:
                guard let t = target, running, t != r.owner else { return .accepted }
                r.state = .stopping
                r.intent = .relocate(t)
            }
        case .disable:
            if r.owner == nil || r.state == .disabled || (r.state == .failed && !running) {
                r.state = .disabled
                r.owner = nil
            } else {
                r.state = .stopping
                r.intent = .disable
            }
        case .relocate(_, let target):
            if let t = target, !members.contains(t) { return .refused("member \(t) is not running rgmanager") }
            if let t = target, memberLocked[t] == true { return lockedRefusal(t) }
            guard r.state == .started, running else { return .refused("service:\(name) is not running") }
            r.state = .stopping
            r.intent = .relocate(target)
        case .restart:
            guard r.state == .started, running else { return .refused("service:\(name) is not running") }
            if let o = r.owner, memberLocked[o] == true { return lockedRefusal(o) }
            r.state = .stopping
            r.intent = .restart
        case .stop:
            if r.state == .started || r.state == .starting {
                r.state = .stopping
                r.intent = .stop
            } else if r.state == .stopped {
                r.held = true
            } else {
                return .refused("service:\(name) is \(r.state)")
            }
        case .freeze:
            r.flags.insert(.frozen)
        case .unfreeze:
            r.flags.remove(.frozen)
        }
        r.generation += 1
        r.lastTransition = time
        table[name] = r
        return .accepted
    }
}
