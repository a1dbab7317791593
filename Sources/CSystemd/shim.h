// SPDX-License-Identifier: Apache-2.0
// libsystemd (sd_notify, journal) and syslog(3). Only ClusterDaemonSupport imports this module.
#include <systemd/sd-daemon.h>
#include <systemd/sd-journal.h>
#include <syslog.h>

/// syslog(3) is variadic and cannot be called from Swift; pass the message as a plain argument.
static inline void csd_syslog(int priority, const char *message) { syslog(priority, "%s", message); }
