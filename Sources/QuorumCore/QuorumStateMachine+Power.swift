// SPDX-License-Identifier: Apache-2.0
import ClusterTypes

/// Changes that add voting power to a partition: more votes for a node (`cman_tool votes`, or a configuration that
/// gives this partition's members more), fewer expected votes (`cman_tool expected`, last_man_standing).
///
/// Such a change is safe where it lands if no node outside can be quorate by the rules it still runs by (it does
/// not see the change):
/// - the partition is quorate on its members' own votes: then the others hold less than half of every vote there
///   was, device votes included, and stay below quorum whatever is raised here;
/// - or every configured node is here (and no quorum device is configured): a node that misses the change (it splits
///   off before delivering it) keeps its old view, in which it is part of this partition's minority or all of it.
///
/// With a quorum device, quorate only thanks to the device's votes is not enough: master_wins moves the device's
/// votes to the other side when the master changes (and a member that never learned of the change counts them with
/// the old, lower quorum), while this side would stay quorate on the raised votes alone (issue 9's seed 13266).
///
/// The check is made where the change is requested (the refusal tells the administrator why), and again where it is
/// delivered: the request was judged against the sender's view, and totem may deliver it in a later configuration,
/// after the partition lost the members that made it quorate. Every member delivers it in the same configuration,
/// at the same place, with the same quorum state, so they drop it or apply it alike.
extension Quorum.StateMachine {
    /// Every configured node is an active member of this partition (heard from, not Disallowed, not leaving).
    public var everyonePresent: Bool {
        Set(settings.nodes.map(\.id)).isSubset(of: Set(activeMembers))
    }

    /// Quorate on the members' own votes: with a quorum device, without counting the device's votes.
    var quorateOnOwnVotes: Bool {
        guard summary.quorate else { return false }
        guard settings.qdiskVotes != nil else { return true }
        return summary.totalVotes - summary.qdiskVotes >= summary.quorum
    }

    /// Whether an administrative change may be made in this partition now: one that adds voting power needs the
    /// rules above, any other a quorate partition (or every node present).
    func mayChangePowerHere(addsPower: Bool) -> Bool {
        if everyonePresent && settings.qdiskVotes == nil { return true }
        return addsPower ? quorateOnOwnVotes : summary.quorate
    }

    /// Why a delivered change that adds voting power does not take effect here; nil when it does.
    func powerChangeDropped() -> String? {
        if !settings.mutations.isDisjoint(with: [.powerChangesUncheckedOnDelivery, .adminChangesInMinority]) { return nil }
        if cameAlong != nil {
            return "it was delivered after members left (a transitional configuration), where the quorum it was checked against no longer holds"
        }
        if mayChangePowerHere(addsPower: true) { return nil }
        if summary.quorate {
            return "this partition is quorate only with the quorum device's votes (\(summary.totalVotes - summary.qdiskVotes) own votes, quorum \(summary.quorum)), which the master's partition elsewhere may count"
        }
        return "this partition is inquorate (\(summary.totalVotes) of \(summary.expectedVotes) votes, quorum \(summary.quorum)) where it was delivered"
    }

    /// A proposed configuration that gives this partition's members more votes (or the quorum device more) while
    /// a device is configured: refused unless the partition is quorate on its own votes. Without a device, the
    /// quorate partition that installs it holds a majority of every vote, and the rest stay below quorum.
    func reloadPowerRefusal(_ new: Quorum.Settings) -> String? {
        guard settings.qdiskVotes != nil || new.qdiskVotes != nil else { return nil }
        if settings.mutations.contains(.powerChangesUncheckedOnDelivery) { return nil }
        let present = activeMembers
        let now = present.reduce(UInt32(0)) { $0 + (nodes[$1]?.votes ?? 0) }
        let then = present.reduce(UInt32(0)) { sum, id in sum + (new.nodes.first { $0.id == id }?.votes ?? 0) }
        let moreDevice = (new.qdiskVotes ?? 0) > (settings.qdiskVotes ?? 0)
        guard then > now || moreDevice, !quorateOnOwnVotes else { return nil }
        return "with a quorum device, a configuration that gives this partition more votes (members \(now) -> \(then), device "
            + "\(settings.qdiskVotes ?? 0) -> \(new.qdiskVotes ?? 0)) is installed only by a partition quorate without the device's votes "
            + "(\(summary.totalVotes - summary.qdiskVotes) own votes, quorum \(summary.quorum)): the master's partition elsewhere could be quorate too"
    }
}
