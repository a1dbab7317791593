#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# fs: a local file system, delegated to resource-agents' Filesystem (mountpoint= becomes directory=).
# clusterfs.sh and netfs.sh use this file too, with their own metadata and defaults.
. "$(dirname "$0")/lib/rgm-agent.sh"

meta_data() {
cat <<'XML'
<?xml version="1.0"?>
<resource-agent name="fs" version="1.0">
  <version>1.0</version>
  <shortdesc lang="en">A file system (Filesystem)</shortdesc>
  <longdesc lang="en">Mounts a block device on a mount point; checks at depth 0 that it is mounted, deeper that it can be read and written.</longdesc>
  <parameters>
    <parameter name="name" primary="1"><content type="string"/></parameter>
    <parameter name="mountpoint" unique="1" required="1"><content type="string"/></parameter>
    <parameter name="device" unique="1" required="1"><content type="string"/></parameter>
    <parameter name="fstype"><content type="string"/></parameter>
    <parameter name="force_unmount"><shortdesc lang="en">Kill processes using the mount point on stop</shortdesc><content type="boolean"/></parameter>
    <parameter name="quick_status"><content type="boolean"/></parameter>
    <parameter name="self_fence"><content type="boolean"/></parameter>
    <parameter name="nfslock" inherit="nfslock"><content type="boolean"/></parameter>
    <parameter name="fsid"><content type="string"/></parameter>
    <parameter name="force_fsck"><content type="boolean"/></parameter>
    <parameter name="options"><content type="string"/></parameter>
  </parameters>
  <actions>
    <action name="start" timeout="900"/>
    <action name="stop" timeout="30"/>
    <action name="status" interval="1m" timeout="10"/>
    <action name="monitor" interval="1m" timeout="10"/>
    <action name="status" depth="10" interval="30" timeout="30"/>
    <action name="monitor" depth="10" interval="30" timeout="30"/>
    <action name="status" depth="20" interval="1m" timeout="30"/>
    <action name="monitor" depth="20" interval="1m" timeout="30"/>
    <action name="meta-data" timeout="5"/>
    <action name="validate-all" timeout="5"/>
  </actions>
  <special tag="rgmanager">
    <attributes maxinstances="1"/>
    <child type="fs" start="1" stop="3"/>
    <child type="clusterfs" start="1" stop="3"/>
    <child type="nfsexport" start="3" stop="1"/>
  </special>
</resource-agent>
XML
}

# rgm_filesystem ACTION: the translation shared by fs, clusterfs and netfs.
rgm_filesystem() {
  OCF_RESKEY_directory="$OCF_RESKEY_mountpoint"
  export OCF_RESKEY_directory
  if [ -n "$OCF_RESKEY_force_unmount" ]; then
    OCF_RESKEY_force_unmount="$(rgm_bool "$OCF_RESKEY_force_unmount")"
    export OCF_RESKEY_force_unmount
  fi
  if [ "$(rgm_bool "$OCF_RESKEY_force_fsck")" = true ]; then
    OCF_RESKEY_run_fsck=force
    export OCF_RESKEY_run_fsck
  fi
  rgm_delegate Filesystem "$1"
}

if [ "$(basename "$0")" = fs.sh ]; then
  [ "$1" = meta-data ] && { meta_data; exit $OCF_SUCCESS; }
  rgm_filesystem "$1"
fi
