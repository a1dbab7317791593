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
