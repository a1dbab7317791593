// SPDX-License-Identifier: Apache-2.0
import ClusterTypes

/// Cluster-wide config versions (`cman_tool version -r`, and catching up a member that joins with an older file).
///
/// A proposal goes through totem to every member of a quorate partition; each member's shell reads the file
/// (libxml2) and hands the core what it found (`configChecked`); the core decides this node's vote, and only if
/// every member accepts does every member install it, in the same place of the total order.
extension Quorum.StateMachine {
    /// This node's verdict on a proposal: nil to accept, else why not.
    func verdict(version: UInt64, bytes: [UInt8], _ checked: Quorum.ProposedConfig) -> String? {
        let file: (version: UInt64, settings: Quorum.Settings)
        switch checked {
        case .invalid(let problems): return problems
        case .valid(let v, let s): file = (v, s)
        }
        if file.settings.clusterName != settings.clusterName {
            return "cluster name \"\(file.settings.clusterName)\" differs from \"\(settings.clusterName)\""
        }
        if file.version != version { return "the file says config_version \(file.version), not \(version)" }
        if version < configVersion { return "version \(version) is older than the running \(configVersion)" }
        if version == configVersion && bytes != configBytes { return "version \(version) is already running with different content" }
        if !file.settings.nodes.contains(where: { $0.name == me.name }) { return "it does not list this node (\(me.name))" }
        if let refusal = reloadPowerRefusal(file.settings) { return refusal }
        return nil
    }

    /// The shell read the proposal: vote.
    mutating func configChecked(version: UInt64, _ checked: Quorum.ProposedConfig, out: inout Quorum.Output) {
        guard var p = proposal, p.version == version else { return }
        let refusal = verdict(version: version, bytes: p.bytes, checked)
        if let refusal {
            out.effects.append(.notice(.refusingConfig(version: version, from: p.origin, reason: refusal)))
        } else if case .valid(_, let s) = checked {
            p.checked = s
            proposal = p
        }
        out.effects.append(.multicast(Quorum.Message.configVote(node: nodeID, version: version, refusal: refusal ?? "").encode()))
    }

    /// Every member voted: install everywhere, or nowhere.
    mutating func finishProposal(out: inout Quorum.Output) {
        guard let p = proposal else { return }
        proposal = nil
        if p.refusals.isEmpty {
            // Every voter installs it at this same place in the order: they run it now, before they say so.
            for v in p.voters.sorted() where nodes[v] != nil { nodes[v]!.configVersion = max(nodes[v]!.configVersion, p.version) }
            // A member that runs this very file already (a catch-up of another member) has nothing to install.
            if p.version != configVersion || p.bytes != configBytes {
                configVersion = max(configVersion, p.version)
                configBytes = p.bytes
                out.effects.append(.installConfig(version: p.version, bytes: p.bytes))
                announce(&out)
                if let s = p.checked { reconfigure(s, out: &out) }
            }
        }
        if p.origin == nodeID {
            out.effects.append(.configDistributed(version: p.version, failure: p.refusals.isEmpty ? nil : p.refusals.joined(separator: "; ")))
        }
        if !p.refusals.isEmpty {
            out.effects.append(.notice(.configRefused(version: p.version, reasons: p.refusals.joined(separator: "; "))))
        }
    }

    mutating func abortProposal(_ why: String, out: inout Quorum.Output) {
        guard let p = proposal else { return }
        proposal = nil
        if p.origin == nodeID { out.effects.append(.configDistributed(version: p.version, failure: why)) }
    }

    /// A member runs an older config: the member with the newest (lowest id among equals) proposes its own file.
    mutating func checkConfigVersions(out: inout Quorum.Output) {
        guard proposal == nil, summary.quorate else { return }
        let heard = activeMembers.filter { nodes[$0]!.heard }
        guard heard.count == activeMembers.count, let newest = heard.map({ nodes[$0]!.configVersion }).max() else { return }
        guard heard.contains(where: { nodes[$0]!.configVersion < newest }) else { return }
        guard heard.first(where: { nodes[$0]!.configVersion == newest }) == nodeID else { return }
        // The same checks as `cman_tool version -r` of the running file (quorate, no distribution under way, a
        // member behind), so only the size remains; once sent, the proposal is on its way until it is delivered or
        // the membership changes.
        guard !catchUpSent, configBytes.count <= Quorum.configBytesMax else { return }
        catchUpSent = true
        out.effects.append(.multicast(Quorum.Message.configPropose(origin: nodeID, version: configVersion, bytes: configBytes).encode()))
    }
}
