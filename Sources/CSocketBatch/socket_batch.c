// SPDX-License-Identifier: Apache-2.0
#define _GNU_SOURCE
#include <stddef.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include "socket_batch.h"

#ifndef SOL_UDP
#define SOL_UDP 17
#endif
#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103  /* linux/udp.h, Linux 4.18 */
#endif
#ifndef UDP_GRO
#define UDP_GRO 104  /* linux/udp.h, Linux 5.0 */
#endif

_Static_assert(sizeof(struct cluster_mmsghdr) == sizeof(struct mmsghdr), "struct mmsghdr layout");
_Static_assert(offsetof(struct cluster_mmsghdr, msg_len) == offsetof(struct mmsghdr, msg_len), "struct mmsghdr layout");

int cluster_sendmmsg(int fd, struct cluster_mmsghdr *messages, unsigned int count, int flags) {
    return sendmmsg(fd, (struct mmsghdr *)messages, count, flags);
}

int cluster_recvmmsg(int fd, struct cluster_mmsghdr *messages, unsigned int count, int flags) {
    return recvmmsg(fd, (struct mmsghdr *)messages, count, flags, NULL);
}

unsigned long cluster_segment_control_bytes(void) {
    return CMSG_SPACE(sizeof(uint16_t));
}

void cluster_set_segment_size(struct msghdr *message, void *control, uint16_t size) {
    memset(control, 0, CMSG_SPACE(sizeof(uint16_t)));
    message->msg_control = control;
    message->msg_controllen = CMSG_SPACE(sizeof(uint16_t));
    struct cmsghdr *c = CMSG_FIRSTHDR(message);
    c->cmsg_level = SOL_UDP;
    c->cmsg_type = UDP_SEGMENT;
    c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
    memcpy(CMSG_DATA(c), &size, sizeof size);
}

int cluster_segmentation_supported(int fd) {
    int none = 0;  /* 0: no segmentation by default; per message with the control message */
    return setsockopt(fd, SOL_UDP, UDP_SEGMENT, &none, sizeof none) == 0;
}

int cluster_enable_coalescing(int fd) {
    int on = 1;
    return setsockopt(fd, SOL_UDP, UDP_GRO, &on, sizeof on) == 0;
}

unsigned long cluster_coalesced_control_bytes(void) {
    return CMSG_SPACE(sizeof(int));
}

int cluster_coalesced_segment_size(const struct msghdr *message) {
    if (message->msg_control == NULL) return 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(message); c != NULL; c = CMSG_NXTHDR((struct msghdr *)message, c)) {
        if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO && c->cmsg_len >= CMSG_LEN(sizeof(int))) {
            int size;
            memcpy(&size, CMSG_DATA(c), sizeof size);
            return size > 0 ? size : 0;
        }
    }
    return 0;
}
