#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# drbd: makes a DRBD resource primary on the service's owner (drbdadm primary/secondary), and checks its role.
. "$(dirname "$0")/lib/rgm-agent.sh"

meta_data() {
cat <<'XML'
<?xml version="1.0"?>
<resource-agent name="drbd" version="1.0">
  <version>1.0</version>
  <shortdesc lang="en">A DRBD resource in the primary role</shortdesc>
  <longdesc lang="en">Promotes the DRBD resource on start and demotes it on stop; untyped, so it runs after the typed resources of its service.</longdesc>
  <parameters>
    <parameter name="name" unique="1" primary="1"><content type="string"/></parameter>
    <parameter name="resource" unique="1" required="1"><shortdesc lang="en">The DRBD resource name</shortdesc><content type="string"/></parameter>
  </parameters>
  <actions>
    <action name="start" timeout="20"/>
    <action name="stop" timeout="20"/>
    <action name="status" depth="10" interval="60" timeout="20"/>
    <action name="meta-data" timeout="20"/>
  </actions>
  <special tag="rgmanager">
    <attributes maxinstances="1"/>
  </special>
</resource-agent>
XML
}

[ "$1" = meta-data ] && { meta_data; exit $OCF_SUCCESS; }
if ! command -v drbdadm >/dev/null 2>&1; then
  [ "$1" = stop ] && exit $OCF_SUCCESS
  rgm_log err "drbdadm is not installed (Debian package drbd-utils)"
  exit $OCF_ERR_INSTALLED
fi
res="$OCF_RESKEY_resource"
case "$1" in
  start|recover) drbdadm primary "$res" || exit $OCF_ERR_GENERIC ;;
  stop) drbdadm secondary "$res" || exit $OCF_ERR_GENERIC ;;
  status|monitor)
    case "$(drbdadm role "$res" 2>/dev/null)" in
      Primary*) exit $OCF_SUCCESS ;;
      *) exit $OCF_NOT_RUNNING ;;
    esac ;;
  validate-all) exit $OCF_SUCCESS ;;
  *) rgm_usage ;;
esac
exit $OCF_SUCCESS
