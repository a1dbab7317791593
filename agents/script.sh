#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# script: runs an LSB init script (file=) with start, stop and status, and maps its exit codes to OCF ones.
. "$(dirname "$0")/lib/rgm-agent.sh"

meta_data() {
cat <<'XML'
<?xml version="1.0"?>
<resource-agent name="script" version="1.0">
  <version>1.0</version>
  <shortdesc lang="en">An LSB init script</shortdesc>
  <longdesc lang="en">Starts, stops and checks a program through its init script (start, stop, status).</longdesc>
  <parameters>
    <parameter name="name" unique="1" primary="1"><shortdesc lang="en">Name</shortdesc><content type="string"/></parameter>
    <parameter name="file" unique="1" required="1"><shortdesc lang="en">Path of the init script</shortdesc><content type="string"/></parameter>
    <parameter name="service_name" inherit="service%name"><shortdesc lang="en">The service it belongs to</shortdesc><content type="string"/></parameter>
  </parameters>
  <actions>
    <action name="start" timeout="0"/>
    <action name="stop" timeout="0"/>
    <action name="status" interval="30s" timeout="0"/>
    <action name="monitor" interval="30s" timeout="0"/>
    <action name="meta-data" timeout="0"/>
    <action name="validate-all" timeout="0"/>
  </actions>
</resource-agent>
XML
}

file="$OCF_RESKEY_file"
case "$1" in
  meta-data) meta_data; exit $OCF_SUCCESS ;;
  validate-all)
    [ -n "$file" ] || exit $OCF_ERR_CONFIGURED
    [ -x "$file" ] || exit $OCF_ERR_INSTALLED
    exit $OCF_SUCCESS ;;
  start|stop|status|monitor|recover)
    action="$1"
    [ "$action" = monitor ] && action=status
    [ "$action" = recover ] && action=start
    if [ ! -x "$file" ]; then
      # Nothing can run from a script that is not there: stopping it succeeds.
      [ "$action" = stop ] && exit $OCF_SUCCESS
      rgm_log err "script $OCF_RESKEY_name: $file is not an executable file"
      exit $OCF_ERR_INSTALLED
    fi
    rgm_log info "Executing $file $action"
    "$file" "$action"
    rc=$?
    if [ "$action" = status ]; then
      # LSB status: 0 running, 1-3 not running (dead with pid or lock file, or stopped), 4 unknown.
      case $rc in
        0) exit $OCF_SUCCESS ;;
        1|2|3) exit $OCF_NOT_RUNNING ;;
        *) exit $OCF_ERR_GENERIC ;;
      esac
    fi
    [ $rc -eq 0 ] && exit $OCF_SUCCESS
    exit $OCF_ERR_GENERIC ;;
  *) rgm_usage ;;
esac
