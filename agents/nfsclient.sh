#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# nfsclient: exports the inherited path to target= with options=, through resource-agents' exportfs.
. "$(dirname "$0")/lib/rgm-agent.sh"

meta_data() {
cat <<'XML'
<?xml version="1.0"?>
<resource-agent name="nfsclient" version="1.0">
  <version>1.0</version>
  <shortdesc lang="en">An NFS client of an export (exportfs)</shortdesc>
  <longdesc lang="en">Exports the parent export's path to the hosts in target.</longdesc>
  <parameters>
    <parameter name="name" unique="1" primary="1"><content type="string"/></parameter>
    <parameter name="target" required="1"><shortdesc lang="en">Host, netgroup or network allowed</shortdesc><content type="string"/></parameter>
    <parameter name="path" inherit="path"><content type="string"/></parameter>
    <parameter name="svcname" inherit="service%name"><content type="string"/></parameter>
    <parameter name="fsid" inherit="fsid"><content type="string"/></parameter>
    <parameter name="options"><content type="string"/></parameter>
    <parameter name="allow_recover"><content type="boolean"/></parameter>
    <parameter name="service_name" inherit="service%name"><content type="string"/></parameter>
    <parameter name="use_cache" inherit="service%nfs_client_cache"><content type="integer"/></parameter>
  </parameters>
  <actions>
    <action name="start" timeout="90"/>
    <action name="stop" timeout="5"/>
    <action name="recover" timeout="90"/>
    <action name="status" timeout="5" interval="1m"/>
    <action name="meta-data" timeout="5"/>
  </actions>
</resource-agent>
XML
}

[ "$1" = meta-data ] && { meta_data; exit $OCF_SUCCESS; }
OCF_RESKEY_clientspec="$OCF_RESKEY_target"
OCF_RESKEY_directory="$OCF_RESKEY_path"
: "${OCF_RESKEY_options:=rw}"
# exportfs needs an fsid; without an inherited one, derive a stable one from the path.
[ -n "$OCF_RESKEY_fsid" ] || OCF_RESKEY_fsid="$(printf '%s' "$OCF_RESKEY_path" | cksum | cut -d' ' -f1)"
export OCF_RESKEY_clientspec OCF_RESKEY_directory OCF_RESKEY_options OCF_RESKEY_fsid
rgm_delegate exportfs "$1"
