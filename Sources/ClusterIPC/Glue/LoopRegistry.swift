// SPDX-License-Identifier: Apache-2.0
import CQB
#if canImport(Glibc)
import Glibc
#endif

/// libqb's `qb_ipcs_poll_handlers` callbacks carry no user pointer, so they cannot tell which loop to use. Each
/// thread runs at most one `EventLoop`; its `qb_loop_t` is kept in a thread-specific slot that these callbacks read.
enum LoopRegistry {
    private static let key: pthread_key_t = {
        var k = pthread_key_t()
        let rc = pthread_key_create(&k, nil)
        precondition(rc == 0, "pthread_key_create failed: \(rc)")
        return k
    }()

    static func setCurrent(_ loop: OpaquePointer) {
        pthread_setspecific(key, UnsafeRawPointer(loop))
    }

    static var current: OpaquePointer? {
        pthread_getspecific(key).map { OpaquePointer($0) }
    }

    /// Handlers that forward libqb's IPC polling to the current thread's loop.
    static var pollHandlers: qb_ipcs_poll_handlers {
        qb_ipcs_poll_handlers(
            job_add: { priority, data, fn in
                guard let loop = LoopRegistry.current else { return -EINVAL }
                return qb_loop_job_add(loop, priority, data, fn)
            },
            dispatch_add: { priority, fd, events, data, fn in
                guard let loop = LoopRegistry.current else { return -EINVAL }
                return qb_loop_poll_add(loop, priority, fd, events, data, fn)
            },
            dispatch_mod: { priority, fd, events, data, fn in
                guard let loop = LoopRegistry.current else { return -EINVAL }
                return qb_loop_poll_mod(loop, priority, fd, events, data, fn)
            },
            dispatch_del: { fd in
                guard let loop = LoopRegistry.current else { return -EINVAL }
                return qb_loop_poll_del(loop, fd)
            })
    }
}
