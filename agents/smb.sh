#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# smb: a Samba server for the service, with its own configuration /etc/samba/smb.conf.NAME, run through
# resource-agents' generic daemon agent (anything).
. "$(dirname "$0")/lib/rgm-agent.sh"

meta_data() {
cat <<'XML'
<?xml version="1.0"?>
<resource-agent name="smb" version="1.0">
  <version>1.0</version>
  <shortdesc lang="en">A Samba server (anything: smbd)</shortdesc>
  <longdesc lang="en">Runs smbd with the configuration file /etc/samba/smb.conf.NAME.</longdesc>
  <parameters>
    <parameter name="name" unique="1" primary="1"><content type="string"/></parameter>
    <parameter name="workgroup"><content type="string" default="LINUXCLUSTER"/></parameter>
    <parameter name="service_name" inherit="service%name"><content type="string"/></parameter>
  </parameters>
  <actions>
    <action name="start" timeout="0"/>
    <action name="stop" timeout="0"/>
    <action name="status" interval="30s" timeout="0"/>
    <action name="meta-data" timeout="0"/>
  </actions>
</resource-agent>
XML
}

[ "$1" = meta-data ] && { meta_data; exit $OCF_SUCCESS; }
OCF_RESKEY_binfile="$(command -v smbd || echo /usr/sbin/smbd)"
OCF_RESKEY_cmdline_options="--foreground --no-process-group -s /etc/samba/smb.conf.$OCF_RESKEY_name"
OCF_RESKEY_pidfile="${HA_RSCTMP:-/run/resource-agents}/smb-$OCF_RESKEY_name.pid"
export OCF_RESKEY_binfile OCF_RESKEY_cmdline_options OCF_RESKEY_pidfile
rgm_delegate anything "$1"
