#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# service: the root of a resource tree. It holds no resource of its own; its metadata carries the service's options
# (domain, autostart, recovery, ...) and the typed start/stop levels of its children.
. "$(dirname "$0")/lib/rgm-agent.sh"

meta_data() {
cat <<'XML'
<?xml version="1.0"?>
<resource-agent name="service" version="1.0">
  <version>1.0</version>
  <shortdesc lang="en">A cluster service: the root of a resource tree</shortdesc>
  <longdesc lang="en">Groups resources into one unit that starts, stops and moves between nodes as a whole.</longdesc>
  <parameters>
    <parameter name="name" unique="1" required="1" primary="1"><shortdesc lang="en">Service name</shortdesc><content type="string"/></parameter>
    <parameter name="domain" reconfig="1"><shortdesc lang="en">Failover domain</shortdesc><content type="string"/></parameter>
    <parameter name="autostart" reconfig="1"><shortdesc lang="en">Start when the cluster forms (0 leaves it disabled)</shortdesc><content type="boolean" default="1"/></parameter>
    <parameter name="hardrecovery"><shortdesc lang="en">Reboot the node if a stop fails</shortdesc><content type="boolean" default="0"/></parameter>
    <parameter name="exclusive" reconfig="1"><shortdesc lang="en">Run only on a node running no other service</shortdesc><content type="boolean" default="0"/></parameter>
    <parameter name="nfslock"><shortdesc lang="en">NFS lock failover for the service's exports</shortdesc><content type="boolean" default="0"/></parameter>
    <parameter name="nfs_client_cache"><shortdesc lang="en">Cache NFS client access checks</shortdesc><content type="integer" default="0"/></parameter>
    <parameter name="recovery" reconfig="1"><shortdesc lang="en">After a failure: restart, relocate or disable</shortdesc><content type="string" default="restart"/></parameter>
    <parameter name="depend"><shortdesc lang="en">Service this one needs (service:NAME)</shortdesc><content type="string"/></parameter>
    <parameter name="depend_mode"><shortdesc lang="en">hard: follow the dependency's stops; soft: needed only to start</shortdesc><content type="string" default="hard"/></parameter>
    <parameter name="max_restarts"><shortdesc lang="en">Local restarts allowed within restart_expire_time before relocating</shortdesc><content type="string" default="0"/></parameter>
    <parameter name="restart_expire_time"><shortdesc lang="en">Seconds after which a restart no longer counts</shortdesc><content type="string" default="0"/></parameter>
    <parameter name="priority"><shortdesc lang="en">Order of failover with central processing</shortdesc><content type="integer" default="0"/></parameter>
  </parameters>
  <actions>
    <action name="start" timeout="5"/>
    <action name="stop" timeout="5"/>
    <action name="status" timeout="5" interval="1h"/>
    <action name="monitor" timeout="5" interval="1h"/>
    <action name="recover" timeout="5"/>
    <action name="reconfig" timeout="5"/>
    <action name="meta-data" timeout="5"/>
    <action name="validate-all" timeout="5"/>
  </actions>
  <special tag="rgmanager">
    <attributes root="1" maxinstances="1"/>
    <child type="lvm" start="1" stop="9"/>
    <child type="fs" start="2" stop="8"/>
    <child type="clusterfs" start="3" stop="7"/>
    <child type="netfs" start="4" stop="6"/>
    <child type="nfsexport" start="5" stop="5"/>
    <child type="nfsclient" start="6" stop="4"/>
    <child type="ip" start="7" stop="2"/>
    <child type="smb" start="8" stop="3"/>
    <child type="script" start="9" stop="1"/>
  </special>
</resource-agent>
XML
}

case "$1" in
  meta-data) meta_data; exit $OCF_SUCCESS ;;
  start|stop|status|monitor|recover|reconfig|validate-all) exit $OCF_SUCCESS ;;
  *) rgm_usage ;;
esac
