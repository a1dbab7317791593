#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# nfsserver: an NFS server whose state lives on the service's file system, through resource-agents' nfsserver.
. "$(dirname "$0")/lib/rgm-agent.sh"

meta_data() {
cat <<'XML'
<?xml version="1.0"?>
<resource-agent name="nfsserver" version="1.0">
  <version>1.0</version>
  <shortdesc lang="en">An NFS server (nfsserver)</shortdesc>
  <longdesc lang="en">Runs the NFS server with its state directory on the inherited mount point.</longdesc>
  <parameters>
    <parameter name="name" primary="1"><content type="string"/></parameter>
    <parameter name="path" inherit="mountpoint"><content type="string"/></parameter>
    <parameter name="nfspath"><content type="string" default=".clumanager/nfs"/></parameter>
  </parameters>
  <actions>
    <action name="start" timeout="5"/>
    <action name="stop" timeout="5"/>
    <action name="recover" timeout="5"/>
    <action name="status" timeout="5" interval="30"/>
    <action name="meta-data" timeout="5"/>
  </actions>
  <special tag="rgmanager">
    <attributes maxinstances="1"/>
    <child type="nfsexport" forbid="1"/>
    <child type="nfsserver" forbid="1"/>
    <child type="nfsclient" start="1" stop="2"/>
    <child type="ip" start="2" stop="1"/>
  </special>
</resource-agent>
XML
}

[ "$1" = meta-data ] && { meta_data; exit $OCF_SUCCESS; }
OCF_RESKEY_nfs_shared_infodir="$OCF_RESKEY_path/$OCF_RESKEY_nfspath"
export OCF_RESKEY_nfs_shared_infodir
rgm_delegate nfsserver "$1"
