#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# apache: an Apache httpd, delegated to resource-agents' apache (server_root/config_file -> configfile,
# httpd_options -> options).
. "$(dirname "$0")/lib/rgm-agent.sh"

meta_data() {
cat <<'XML'
<?xml version="1.0"?>
<resource-agent name="apache" version="1.0">
  <version>1.0</version>
  <shortdesc lang="en">An Apache web server (apache)</shortdesc>
  <longdesc lang="en">Runs httpd with the given server root and configuration file.</longdesc>
  <parameters>
    <parameter name="name" primary="1"><content type="string"/></parameter>
    <parameter name="server_root"><content type="string" default="/etc/httpd"/></parameter>
    <parameter name="config_file"><content type="string" default="conf/httpd.conf"/></parameter>
    <parameter name="httpd_options"><content type="string"/></parameter>
    <parameter name="shutdown_wait"><content type="integer"/></parameter>
    <parameter name="service_name" inherit="service%name"><content type="string"/></parameter>
  </parameters>
  <actions>
    <action name="start" timeout="0"/>
    <action name="stop" timeout="0"/>
    <action name="status" interval="1m" timeout="10"/>
    <action name="status" depth="10" interval="5m" timeout="30"/>
    <action name="meta-data" timeout="1"/>
  </actions>
</resource-agent>
XML
}

[ "$1" = meta-data ] && { meta_data; exit $OCF_SUCCESS; }
case "$OCF_RESKEY_config_file" in
  /*) OCF_RESKEY_configfile="$OCF_RESKEY_config_file" ;;
  *) OCF_RESKEY_configfile="$OCF_RESKEY_server_root/$OCF_RESKEY_config_file" ;;
esac
OCF_RESKEY_options="$OCF_RESKEY_httpd_options"
export OCF_RESKEY_configfile OCF_RESKEY_options
rgm_delegate apache "$1"
