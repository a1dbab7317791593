// SPDX-License-Identifier: Apache-2.0
// corosync's libcpg, for the comparison benchmark's second back end (tools/cpgload). Needs libcpg-dev.
#include <corosync/cpg.h>
