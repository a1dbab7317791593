// SPDX-License-Identifier: Apache-2.0
import CQB
#if canImport(Glibc)
import Glibc
#endif

/// libqb's `qb_ipcs_poll_handlers` callbacks carry no user pointer, so they cannot tell which loop to use. Each
/// thread runs at most one `EventLoop`; its state is kept in a thread-specific slot that these callbacks read.
///
/// The state also remembers every descriptor libqb's IPC asked to watch, so that the connections of a service
/// under flow control can be parked: libqb does not read a flow-controlled connection, but its descriptor stays
/// readable, and a level-triggered poll would wake the loop for it on every turn (a daemon spinning at full CPU
/// exactly while it is saturated). A parked connection is watched for hang-ups and event resends only.
enum LoopRegistry {
    /// One loop's IPC descriptors.
    final class State {
        struct Watch {
            var priority: qb_loop_priority
            var events: Int32
            var data: UnsafeMutableRawPointer?
            var dispatch: qb_ipcs_dispatch_fn_t?
        }

        let loop: OpaquePointer
        var watches: [Int32: Watch] = [:]
        /// Connections (libqb's connection pointers) whose requests are not to be read for now.
        var parked: Set<UnsafeMutableRawPointer> = []

        init(loop: OpaquePointer) { self.loop = loop }

        func effectiveEvents(_ w: Watch) -> Int32 {
            guard let data = w.data, parked.contains(data) else { return w.events }
            return w.events & ~Int32(POLLIN | POLLPRI)
        }

        /// Stops (or resumes) reading requests of the connection `data`.
        func setParked(_ data: UnsafeMutableRawPointer, _ on: Bool) {
            guard on ? parked.insert(data).inserted : parked.remove(data) != nil else { return }
            for (fd, w) in watches where w.data == data {
                _ = qb_loop_poll_mod(loop, w.priority, fd, effectiveEvents(w), w.data, w.dispatch)
            }
        }
    }

    private static let key: pthread_key_t = {
        var k = pthread_key_t()
        let rc = pthread_key_create(&k, nil)
        precondition(rc == 0, "pthread_key_create failed: \(rc)")
        return k
    }()

    /// Makes `state` this thread's loop state (the `EventLoop` keeps it alive).
    static func setCurrent(_ state: State) {
        pthread_setspecific(key, Unmanaged.passUnretained(state).toOpaque())
    }

    static var current: State? {
        pthread_getspecific(key).map { Unmanaged<State>.fromOpaque($0).takeUnretainedValue() }
    }

    /// Handlers that forward libqb's IPC polling to the current thread's loop.
    static var pollHandlers: qb_ipcs_poll_handlers {
        qb_ipcs_poll_handlers(
            job_add: { priority, data, fn in
                guard let s = LoopRegistry.current else { return -EINVAL }
                return qb_loop_job_add(s.loop, priority, data, fn)
            },
            dispatch_add: { priority, fd, events, data, fn in
                guard let s = LoopRegistry.current else { return -EINVAL }
                let w = State.Watch(priority: priority, events: events, data: data, dispatch: fn)
                let rc = qb_loop_poll_add(s.loop, priority, fd, s.effectiveEvents(w), data, fn)
                if rc == 0 { s.watches[fd] = w }
                return rc
            },
            dispatch_mod: { priority, fd, events, data, fn in
                guard let s = LoopRegistry.current else { return -EINVAL }
                let w = State.Watch(priority: priority, events: events, data: data, dispatch: fn)
                s.watches[fd] = w
                return qb_loop_poll_mod(s.loop, priority, fd, s.effectiveEvents(w), data, fn)
            },
            dispatch_del: { fd in
                guard let s = LoopRegistry.current else { return -EINVAL }
                s.watches[fd] = nil
                return qb_loop_poll_del(s.loop, fd)
            })
    }
}
