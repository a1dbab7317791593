// SPDX-License-Identifier: Apache-2.0
import ClusterClient
import Glibc

/// The kernel DLM's requests: `dlm_new_lockspace` sends `online@/kernel/dlm/<name>` (with `LOCKSPACE=<name>`) and
/// waits until dlm_controld has joined the lockspace's group and writes `event_done`; `dlm_release_lockspace` sends
/// `offline@…` and waits likewise. Other uevents are not ours.
enum DLMUEvents {
    /// The join or leave `event` asks for, or nil when it is not a DLM lockspace event.
    static func request(_ event: KernelUEvent) -> ControlGroupRequest? {
        guard event.subsystem == nil || event.subsystem == "dlm", event.devicePath.hasPrefix("/kernel/dlm/") else { return nil }
        let name = event.fields["LOCKSPACE"] ?? String(event.devicePath.dropFirst("/kernel/dlm/".count))
        guard !name.isEmpty, !name.contains("/") else { return nil }
        switch event.action {
        case "online": return .join(name)
        case "offline": return .leave(name)
        default: return nil
        }
    }

    /// The lockspace requests among the kernel's uevents, logging what it skips that claims to be the DLM's.
    static func requests(from listener: KernelUEventListener, log: @escaping @Sendable (String) -> Void) -> AsyncStream<ControlGroupRequest> {
        let events = listener.events { log("uevents: \($0)") }
        return AsyncStream { continuation in
            let task = Task {
                for await event in events {
                    if let r = request(event) {
                        continuation.yield(r)
                    } else if event.devicePath.hasPrefix("/kernel/dlm") && event.action != "add" && event.action != "remove" {
                        log("uevents: ignored \(event)")
                    }
                }
                continuation.finish()
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    /// What `event_done` says for a refused join: a negative errno, as the kernel returns it from
    /// `dlm_new_lockspace`.
    static func eventResult(_ error: ClusterError) -> Int32 {
        switch error.code {
        case .exists: -EEXIST
        case .refused: -EINVAL
        case .notMember: -ENOENT
        case .tryAgain, .busy: -EBUSY
        case .accessDenied: -EACCES
        case .notRunning, .disconnected: -ENOTCONN
        case .timedOut: -ETIMEDOUT
        default: -EIO
        }
    }
}
