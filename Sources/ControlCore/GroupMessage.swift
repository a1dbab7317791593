// SPDX-License-Identifier: Apache-2.0
import ClusterTypes
import ClusterWire

extension Control {
    /// What members of a managed group tell each other, in the group's agreed order. `event` names the recovery (the
    /// view that began it), so a message about an older recovery is recognised and ignored.
    public enum Message: Hashable, Sendable {
        /// The sender has stopped the group and its wait conditions hold.
        case stopped(event: UInt64)
        /// The sender's subsystem has started with the new members.
        case started(event: UInt64)

        static let version: UInt8 = 1

        public func encode() -> [UInt8] {
            var w = ByteWriter()
            w.write(Self.version)
            switch self {
            case .stopped(let e): w.write(UInt8(1)); w.write(e)
            case .started(let e): w.write(UInt8(2)); w.write(e)
            }
            return w.bytes
        }

        public static func decode(_ bytes: [UInt8]) throws(WireError) -> Message {
            var r = ByteReader(bytes)
            guard try r.readUInt8("version") == version else { throw .invalid(field: "version", reason: "unsupported") }
            let m: Message
            switch try r.readUInt8("type") {
            case 1: m = .stopped(event: try r.readUInt64("event"))
            case 2: m = .started(event: try r.readUInt64("event"))
            default: throw .invalid(field: "type", reason: "unknown")
            }
            try r.expectEnd()
            return m
        }
    }
}
