// SPDX-License-Identifier: Apache-2.0
// The libqb headers the IPC module needs. Only ClusterIPC imports this module.
#include <qb/qbdefs.h>
#include <qb/qbloop.h>
#include <qb/qbipcs.h>
#include <qb/qbipcc.h>
#include <qb/qbipc_common.h>
#include <sys/uio.h>
// EventLoop's timers: Swift's Glibc module does not export timerfd.
#include <sys/timerfd.h>
// IPCClient's send-ahead bound: the bytes a unix socket has sent that its peer has not read yet (each skb's truesize,
// not its payload), and the truesize of a one-byte send on this kernel (measured on a socket pair). -1 where unknown.
#if defined(__linux__)
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <linux/sockios.h>
#include <unistd.h>
static inline int cqb_unread_out_bytes(int fd) {
    int n = 0;
    return ioctl(fd, SIOCOUTQ, &n) == 0 ? n : -1;
}
static inline int cqb_one_byte_send_truesize(void) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) return -1;
    char byte = 0;
    int n = send(sv[0], &byte, 1, MSG_DONTWAIT | MSG_NOSIGNAL) == 1 ? cqb_unread_out_bytes(sv[0]) : -1;
    close(sv[0]);
    close(sv[1]);
    return n > 0 ? n : -1;
}
#else
static inline int cqb_unread_out_bytes(int fd) { (void)fd; return -1; }
static inline int cqb_one_byte_send_truesize(void) { return -1; }
#endif
