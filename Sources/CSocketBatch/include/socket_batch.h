// SPDX-License-Identifier: Apache-2.0
// sendmmsg(2) and recvmmsg(2) for TotemTransport (its own C shim, imported by no other module): glibc declares them
// and struct mmsghdr only under _GNU_SOURCE, which Swift's Glibc module is not built with (Swift 6.3: "cannot find
// 'mmsghdr' in scope"), and syscall(2) is variadic, so Swift cannot reach them without C. This shim declares its own
// copy of struct mmsghdr, checked against glibc's at compile time in the .c, and two one-line forwarders.
#pragma once
#include <stdint.h>
#include <sys/socket.h>

struct cluster_mmsghdr {
    struct msghdr msg_hdr;
    unsigned int msg_len;
};

/// sendmmsg(2): sends up to `count` datagrams with one system call; returns how many went, or -1 and errno.
int cluster_sendmmsg(int fd, struct cluster_mmsghdr *messages, unsigned int count, int flags);

/// recvmmsg(2) without a timeout: receives up to `count` datagrams; returns how many, or -1 and errno.
int cluster_recvmmsg(int fd, struct cluster_mmsghdr *messages, unsigned int count, int flags);

/// Bytes of control buffer `cluster_set_segment_size` needs.
unsigned long cluster_segment_control_bytes(void);

/// Makes `message` a segmented send (UDP_SEGMENT, Linux's UDP GSO): its data goes out as datagrams of `size` bytes
/// each (the last may be shorter). `control` holds `cluster_segment_control_bytes()` bytes and outlives the call.
void cluster_set_segment_size(struct msghdr *message, void *control, uint16_t size);

/// Whether this kernel segments UDP (setsockopt UDP_SEGMENT is known): 1, or 0.
int cluster_segmentation_supported(int fd);

/// Lets the kernel hand this socket a run of equal-sized datagrams from one sender as one read (UDP_GRO, Linux's
/// receive-side coalescing: a segmented send arrives as it was sent, without being cut up below the socket): 1 if
/// the kernel knows it, or 0.
int cluster_enable_coalescing(int fd);

/// Bytes of control buffer a received message needs for `cluster_coalesced_segment_size` to find the segment size.
unsigned long cluster_coalesced_control_bytes(void);

/// The size of each datagram in a coalesced read (the last may be shorter), from its UDP_GRO control message; 0 when
/// the read holds one datagram.
int cluster_coalesced_segment_size(const struct msghdr *message);
