#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# nfsexport: marks an exported file system. Its nfsclient children do the exporting (exportfs); this resource only
# checks that the NFS export tools are there, and passes device, path and fsid down by inheritance.
. "$(dirname "$0")/lib/rgm-agent.sh"

meta_data() {
cat <<'XML'
<?xml version="1.0"?>
<resource-agent name="nfsexport" version="1.0">
  <version>1.0</version>
  <shortdesc lang="en">An NFS export point</shortdesc>
  <longdesc lang="en">Groups the nfsclient resources that export its parent file system.</longdesc>
  <parameters>
    <parameter name="name" primary="1"><content type="string"/></parameter>
    <parameter name="device" inherit="device"><content type="string"/></parameter>
    <parameter name="path" inherit="mountpoint"><content type="string"/></parameter>
    <parameter name="fsid" inherit="fsid"><content type="string"/></parameter>
  </parameters>
  <actions>
    <action name="start" timeout="5"/>
    <action name="stop" timeout="5"/>
    <action name="recover" timeout="5"/>
    <action name="status" timeout="5" interval="1h"/>
    <action name="meta-data" timeout="5"/>
  </actions>
  <special tag="rgmanager">
    <child type="nfsexport" forbid="1"/>
    <child type="nfsclient"/>
  </special>
</resource-agent>
XML
}

case "$1" in
  meta-data) meta_data; exit $OCF_SUCCESS ;;
  start|recover|status|monitor)
    command -v exportfs >/dev/null 2>&1 || { rgm_log err "exportfs is not installed (Debian package nfs-kernel-server)"; exit $OCF_ERR_INSTALLED; }
    exit $OCF_SUCCESS ;;
  stop|validate-all) exit $OCF_SUCCESS ;;
  *) rgm_usage ;;
esac
