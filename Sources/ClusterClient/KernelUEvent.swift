// SPDX-License-Identifier: Apache-2.0

/// One kernel object event ("uevent") as the kernel multicasts it on `NETLINK_KOBJECT_UEVENT`: a header
/// `ACTION@DEVPATH`, then `KEY=VALUE` fields, each ended by a NUL byte. Kernel subsystems ask their control daemon
/// for work this way: the DLM sends `online` and `offline` for a lockspace (`/kernel/dlm/<name>`) and waits until the
/// daemon writes the lockspace's `event_done`.
public struct KernelUEvent: Sendable, Equatable, CustomStringConvertible {
    /// `add`, `remove`, `change`, `online`, `offline`, `move`, `bind`, `unbind`.
    public var action: String
    /// The object's path below `/sys`, e.g. `/kernel/dlm/ls1`.
    public var devicePath: String
    /// The `KEY=VALUE` fields (`ACTION`, `DEVPATH`, `SUBSYSTEM`, `SEQNUM`, and the subsystem's own, e.g. `LOCKSPACE`).
    public var fields: [String: String]

    /// The `SUBSYSTEM` field.
    public var subsystem: String? { fields["SUBSYSTEM"] }

    public init(action: String, devicePath: String, fields: [String: String] = [:]) {
        self.action = action
        self.devicePath = devicePath
        self.fields = fields
    }

    /// Parses one datagram; nil for what is not a kernel uevent (no `ACTION@DEVPATH` header, fields that contradict
    /// it, text that is not UTF-8, or udev's own re-broadcasts, which start with `libudev`).
    public init?(datagram: some Collection<UInt8>) {
        let parts = datagram.split(separator: 0, omittingEmptySubsequences: true).map { String(decoding: $0, as: UTF8.self) }
        guard let header = parts.first, !header.hasPrefix("libudev"), let at = header.firstIndex(of: "@") else { return nil }
        let action = String(header[..<at])
        let path = String(header[header.index(after: at)...])
        guard !action.isEmpty, path.hasPrefix("/"), !parts.contains(where: { $0.contains("\u{FFFD}") }) else { return nil }
        var fields: [String: String] = [:]
        for part in parts.dropFirst() {
            guard let eq = part.firstIndex(of: "="), eq != part.startIndex else { return nil }
            fields[String(part[..<eq])] = String(part[part.index(after: eq)...])
        }
        if let a = fields["ACTION"], a != action { return nil }
        if let p = fields["DEVPATH"], p != path { return nil }
        self.init(action: action, devicePath: path, fields: fields)
    }

    /// The datagram the kernel would send for this event (for tests and tools that stand in for the kernel).
    public var datagram: [UInt8] {
        var out = Array("\(action)@\(devicePath)".utf8) + [0]
        var all = fields
        all["ACTION"] = action
        all["DEVPATH"] = devicePath
        for key in all.keys.sorted() { out += Array("\(key)=\(all[key]!)".utf8) + [0] }
        return out
    }

    public var description: String {
        "\(action)@\(devicePath)" + (subsystem.map { " (\($0))" } ?? "")
    }
}
