#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# lvm: activates a volume group (or one logical volume) exclusively on the owner, through resource-agents'
# LVM-activate with tag-based access (HA-LVM).
. "$(dirname "$0")/lib/rgm-agent.sh"

meta_data() {
cat <<'XML'
<?xml version="1.0"?>
<resource-agent name="lvm" version="1.0">
  <version>1.0</version>
  <shortdesc lang="en">An LVM volume group or logical volume (LVM-activate)</shortdesc>
  <longdesc lang="en">Activates vg_name (or only lv_name in it) on the node running the service.</longdesc>
  <parameters>
    <parameter name="name" primary="1"><content type="string"/></parameter>
    <parameter name="vg_name" required="1"><content type="string"/></parameter>
    <parameter name="lv_name"><content type="string"/></parameter>
    <parameter name="self_fence"><content type="boolean"/></parameter>
    <parameter name="nfslock" inherit="service%nfslock"><content type="boolean"/></parameter>
  </parameters>
  <actions>
    <action name="start" timeout="5"/>
    <action name="stop" timeout="5"/>
    <action name="status" timeout="5" interval="1h"/>
    <action name="meta-data" timeout="5"/>
  </actions>
  <special tag="rgmanager">
    <attributes maxinstances="1"/>
  </special>
</resource-agent>
XML
}

[ "$1" = meta-data ] && { meta_data; exit $OCF_SUCCESS; }
OCF_RESKEY_vgname="$OCF_RESKEY_vg_name"
OCF_RESKEY_lvname="$OCF_RESKEY_lv_name"
: "${OCF_RESKEY_vg_access_mode:=tagging}"
export OCF_RESKEY_vgname OCF_RESKEY_lvname OCF_RESKEY_vg_access_mode
rgm_delegate LVM-activate "$1"
