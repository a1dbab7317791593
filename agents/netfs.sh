#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# netfs: an NFS (or CIFS) mount of host:export, through resource-agents' Filesystem.
. "$(dirname "$0")/fs.sh"

meta_data() {
cat <<'XML'
<?xml version="1.0"?>
<resource-agent name="netfs" version="1.0">
  <version>1.0</version>
  <shortdesc lang="en">A network file system mount (Filesystem, nfs)</shortdesc>
  <longdesc lang="en">Mounts host:export on the mount point; fstype defaults to nfs.</longdesc>
  <parameters>
    <parameter name="name" primary="1"><content type="string"/></parameter>
    <parameter name="mountpoint" unique="1" required="1"><content type="string"/></parameter>
    <parameter name="host" required="1"><content type="string"/></parameter>
    <parameter name="export" required="1"><content type="string"/></parameter>
    <parameter name="fstype"><content type="string" default="nfs"/></parameter>
    <parameter name="no_unmount"><content type="boolean"/></parameter>
    <parameter name="force_unmount"><content type="boolean"/></parameter>
    <parameter name="options"><content type="string"/></parameter>
  </parameters>
  <actions>
    <action name="start" timeout="900"/>
    <action name="stop" timeout="30"/>
    <action name="status" interval="1m" timeout="10"/>
    <action name="status" depth="10" interval="5m" timeout="30"/>
    <action name="status" depth="20" interval="10m" timeout="30"/>
    <action name="meta-data" timeout="5"/>
  </actions>
  <special tag="rgmanager">
    <child type="nfsexport" forbid="1"/>
    <child type="nfsclient" forbid="1"/>
  </special>
</resource-agent>
XML
}

[ "$1" = meta-data ] && { meta_data; exit $OCF_SUCCESS; }
OCF_RESKEY_device="$OCF_RESKEY_host:$OCF_RESKEY_export"
: "${OCF_RESKEY_fstype:=nfs}"
export OCF_RESKEY_device OCF_RESKEY_fstype
if [ "$1" = stop ] && [ "$(rgm_bool "$OCF_RESKEY_no_unmount")" = true ]; then exit $OCF_SUCCESS; fi
rgm_filesystem "$1"
