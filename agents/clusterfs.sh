#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# clusterfs: a cluster file system (GFS2 by default) mounted on every node that runs the service, through
# resource-agents' Filesystem.
. "$(dirname "$0")/fs.sh"

meta_data() {
cat <<'XML'
<?xml version="1.0"?>
<resource-agent name="clusterfs" version="1.0">
  <version>1.0</version>
  <shortdesc lang="en">A cluster file system (Filesystem, gfs2)</shortdesc>
  <longdesc lang="en">Mounts a shared cluster file system; fstype defaults to gfs2.</longdesc>
  <parameters>
    <parameter name="name" primary="1"><content type="string"/></parameter>
    <parameter name="mountpoint" unique="1" required="1"><content type="string"/></parameter>
    <parameter name="device" unique="1" required="1"><content type="string"/></parameter>
    <parameter name="fstype"><content type="string" default="gfs2"/></parameter>
    <parameter name="force_unmount"><content type="boolean"/></parameter>
    <parameter name="options"><content type="string"/></parameter>
    <parameter name="self_fence"><content type="boolean"/></parameter>
    <parameter name="fsid"><content type="string"/></parameter>
    <parameter name="nfslock" inherit="service%nfslock"><content type="boolean"/></parameter>
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
    <child type="fs" start="1" stop="3"/>
    <child type="clusterfs" start="1" stop="3"/>
    <child type="nfsexport" start="3" stop="1"/>
  </special>
</resource-agent>
XML
}

[ "$1" = meta-data ] && { meta_data; exit $OCF_SUCCESS; }
: "${OCF_RESKEY_fstype:=gfs2}"
export OCF_RESKEY_fstype
rgm_filesystem "$1"
