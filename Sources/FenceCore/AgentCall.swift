// SPDX-License-Identifier: Apache-2.0
import ClusterConfigModel

extension Fence {
    /// The fence-agent stdin protocol (fence-agents' FenceAgentAPI): no argv; one `key=value` per line.
    public enum AgentCall {
        /// Keys the agents accept for the action; a configured one is passed as given.
        static let actionKeys: Set<String> = ["action", "option"]

        /// The lines for running `device` against `target`: the per-node `<device>` attributes, then `agent=` and
        /// the `<fencedevice>`'s other attributes, then `nodename=` (the target), then `action=` with
        /// `defaultAction` unless an `action` (or its old name `option`) was configured. Agents take the last value
        /// of a repeated key, so the device's own attributes win over per-node ones.
        public static func stdin(device: DevicePlan, target: String, defaultAction: String) -> [String] {
            var lines: [String] = []
            for a in device.nodeArguments where a.name != "name" { lines.append("\(a.name)=\(a.value)") }
            if let agent = device.agent { lines.append("agent=\(agent)") }
            for a in device.deviceArguments where a.name != "name" && a.name != "agent" { lines.append("\(a.name)=\(a.value)") }
            lines.append("nodename=\(target)")
            let configured = (device.nodeArguments + device.deviceArguments).contains { actionKeys.contains($0.name) }
            if !configured { lines.append("action=\(defaultAction)") }
            return lines
        }

        /// Keys whose values are secrets and are masked when a call is printed (fence_node -v, logs).
        static let secretKeys: Set<String> = ["passwd", "password", "passwd_script", "password_script", "community", "snmp_priv_passwd"]

        /// `lines` with secret values replaced by `***`, for display.
        public static func masked(_ lines: [String]) -> [String] {
            lines.map { line in
                guard let eq = line.firstIndex(of: "="), secretKeys.contains(String(line[..<eq])) else { return line }
                return String(line[...eq]) + "***"
            }
        }
    }

    /// Walks a node's methods (or its unfence devices) the way fenced does: methods in order, every device of a
    /// method in order; the first method whose devices all succeed ends the walk. Shared by the domain's master
    /// and by `fence_node`, so both try exactly the same calls.
    public struct Sequence: Hashable, Sendable {
        public enum Step: Hashable, Sendable {
            /// Run this device next. `method` and `device` are 0-based indices.
            case run(method: Int, device: Int, DevicePlan)
            /// A method succeeded: its name and the agents of its devices.
            case succeeded(method: String, agents: [String])
            /// Every method failed (or there is none).
            case failed
        }

        public let plan: NodePlan
        public let purpose: Purpose
        public private(set) var method = 0
        public private(set) var device = 0
        public private(set) var finished = false

        public init(plan: NodePlan, purpose: Purpose) {
            self.plan = plan
            self.purpose = purpose
        }

        /// The methods walked: the configured ones to fence; the unfence devices as one method to unfence.
        public var methods: [MethodPlan] {
            purpose == .fence ? plan.methods : (plan.unfence.isEmpty ? [] : [MethodPlan(name: "unfence", devices: plan.unfence)])
        }

        /// The step to take now.
        public var current: Step {
            let ms = methods
            guard !finished, method < ms.count else { return .failed }
            let m = ms[method]
            guard device < m.devices.count else {
                return .succeeded(method: m.name, agents: m.devices.map { $0.agent ?? $0.name })
            }
            return .run(method: method, device: device, m.devices[device])
        }

        /// Records the result of the device `current` named, and returns the next step. A method without devices
        /// counts as failed: succeeding with nothing done would release a victim nobody fenced.
        public mutating func record(success: Bool) -> Step {
            let ms = methods
            guard !finished, method < ms.count else { return .failed }
            if success && !ms[method].devices.isEmpty {
                device += 1
            } else {
                method += 1
                device = 0
                while method < ms.count && ms[method].devices.isEmpty { method += 1 }
            }
            let step = current
            if case .run = step {} else { finished = true }
            return step
        }

        /// The first step, skipping methods without devices.
        public mutating func start() -> Step {
            let ms = methods
            while method < ms.count && ms[method].devices.isEmpty { method += 1 }
            let step = current
            if case .run = step {} else { finished = true }
            return step
        }
    }
}
