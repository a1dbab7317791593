// SPDX-License-Identifier: Apache-2.0
// sendmmsg(2) and recvmmsg(2) for TotemTransport (its own C shim, imported by no other module): glibc declares them
// and struct mmsghdr only under _GNU_SOURCE, which Swift's Glibc module is not built with (Swift 6.3: "cannot find
// 'mmsghdr' in scope"), and syscall(2) is variadic, so Swift cannot reach them without C. This shim declares its own
// copy of struct mmsghdr, checked against glibc's at compile time in the .c, and two one-line forwarders.
#pragma once
#include <sys/socket.h>

struct cluster_mmsghdr {
    struct msghdr msg_hdr;
    unsigned int msg_len;
};

/// sendmmsg(2): sends up to `count` datagrams with one system call; returns how many went, or -1 and errno.
int cluster_sendmmsg(int fd, struct cluster_mmsghdr *messages, unsigned int count, int flags);

/// recvmmsg(2) without a timeout: receives up to `count` datagrams; returns how many, or -1 and errno.
int cluster_recvmmsg(int fd, struct cluster_mmsghdr *messages, unsigned int count, int flags);
