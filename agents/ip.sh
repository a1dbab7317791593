#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# ip: a floating IP address, delegated to resource-agents' IPaddr2 (address=A/N becomes ip=A cidr_netmask=N).
. "$(dirname "$0")/lib/rgm-agent.sh"

meta_data() {
cat <<'XML'
<?xml version="1.0"?>
<resource-agent name="ip" version="1.0">
  <version>1.0</version>
  <shortdesc lang="en">A floating IP address (IPaddr2)</shortdesc>
  <longdesc lang="en">Adds the address to the interface whose network contains it, announces it, and removes it on stop.</longdesc>
  <parameters>
    <parameter name="address" unique="1" primary="1"><shortdesc lang="en">Address with prefix length, e.g. 10.0.0.5/24</shortdesc><content type="string"/></parameter>
    <parameter name="family"><shortdesc lang="en">inet or inet6 (taken from the address)</shortdesc><content type="string"/></parameter>
    <parameter name="monitor_link"><shortdesc lang="en">Fail the status check when the link is down</shortdesc><content type="boolean" default="1"/></parameter>
    <parameter name="nfslock" inherit="service%nfslock"><content type="boolean"/></parameter>
    <parameter name="sleeptime"><shortdesc lang="en">Seconds to wait after adding or removing</shortdesc><content type="string"/></parameter>
  </parameters>
  <actions>
    <action name="start" timeout="20"/>
    <action name="stop" timeout="20"/>
    <action name="status" interval="20" timeout="10"/>
    <action name="monitor" interval="20" timeout="10"/>
    <action name="status" depth="10" interval="60" timeout="20"/>
    <action name="monitor" depth="10" interval="60" timeout="20"/>
    <action name="meta-data" timeout="20"/>
    <action name="validate-all" timeout="20"/>
  </actions>
  <special tag="rgmanager">
    <attributes maxinstances="1"/>
    <child type="nfsclient" forbid="1"/>
    <child type="nfsexport" forbid="1"/>
  </special>
</resource-agent>
XML
}

[ "$1" = meta-data ] && { meta_data; exit $OCF_SUCCESS; }
case "$OCF_RESKEY_address" in
  */*) OCF_RESKEY_ip="${OCF_RESKEY_address%/*}"; OCF_RESKEY_cidr_netmask="${OCF_RESKEY_address#*/}"
       export OCF_RESKEY_cidr_netmask ;;
  *) OCF_RESKEY_ip="$OCF_RESKEY_address" ;;
esac
export OCF_RESKEY_ip
rgm_delegate IPaddr2 "$1"
