#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# demo: a small web server that needs no root, for trying the cluster on one machine. It serves the shared
# directory data_dir on address:port (python3's http.server, which resource-agents already needs), and on start
# writes data_dir/NAME.owner naming the node that runs it (CLUSTER_NODE_NAME, else the host name).
. "$(dirname "$0")/lib/rgm-agent.sh"

meta_data() {
cat <<'XML'
<?xml version="1.0"?>
<resource-agent name="demo" version="1.0">
  <version>1.0</version>
  <shortdesc lang="en">A demo web server on a per-service port</shortdesc>
  <longdesc lang="en">Serves a shared directory over HTTP; depth 10 fetches the owner file through the server.</longdesc>
  <parameters>
    <parameter name="name" unique="1" primary="1"><content type="string"/></parameter>
    <parameter name="port" unique="1" required="1"><shortdesc lang="en">TCP port</shortdesc><content type="integer"/></parameter>
    <parameter name="data_dir" required="1"><shortdesc lang="en">Shared directory to serve</shortdesc><content type="string"/></parameter>
    <parameter name="address"><content type="string" default="127.0.0.1"/></parameter>
    <parameter name="pid_dir"><shortdesc lang="en">Node-local directory for the pid file (default: $HA_RSCTMP, which rgmanager sets per node, else /tmp)</shortdesc><content type="string"/></parameter>
    <parameter name="service_name" inherit="service%name"><content type="string"/></parameter>
  </parameters>
  <actions>
    <action name="start" timeout="10"/>
    <action name="stop" timeout="10"/>
    <action name="status" interval="10" timeout="5"/>
    <action name="status" depth="10" interval="30" timeout="5"/>
    <action name="meta-data" timeout="5"/>
  </actions>
</resource-agent>
XML
}

name="$OCF_RESKEY_name"
port="$OCF_RESKEY_port"
dir="$OCF_RESKEY_data_dir"
address="${OCF_RESKEY_address:-127.0.0.1}"
# Node-local: several local-cluster nodes share /tmp, so rgmanager's per-node HA_RSCTMP comes first.
pidfile="${OCF_RESKEY_pid_dir:-${HA_RSCTMP:-/tmp}}/rgdemo-$name.pid"

# Alive and not a zombie (an init that does not reap leaves killed servers as zombies).
running() {
  [ -f "$pidfile" ] || return 1
  pid="$(cat "$pidfile")"
  kill -0 "$pid" 2>/dev/null || return 1
  [ "$(cut -d' ' -f3 "/proc/$pid/stat" 2>/dev/null)" != Z ]
}

fetch() {
  python3 -c 'import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=2).read().decode())' \
    "http://$address:$port/$1" 2>/dev/null
}

case "$1" in
  meta-data) meta_data; exit $OCF_SUCCESS ;;
  validate-all) [ -n "$port" ] && [ -d "$dir" ] && exit $OCF_SUCCESS; exit $OCF_ERR_CONFIGURED ;;
  start|recover)
    command -v python3 >/dev/null 2>&1 || { rgm_log err "python3 is not installed"; exit $OCF_ERR_INSTALLED; }
    [ -n "$port" ] && [ -d "$dir" ] || { rgm_log err "demo $name: port= and an existing data_dir= are needed"; exit $OCF_ERR_CONFIGURED; }
    running && exit $OCF_SUCCESS
    echo "${CLUSTER_NODE_NAME:-$(hostname)}" > "$dir/$name.owner" || exit $OCF_ERR_PERM
    nohup python3 -m http.server "$port" --bind "$address" --directory "$dir" >/dev/null 2>&1 &
    echo $! > "$pidfile"
    i=0
    while [ $i -lt 50 ]; do
      [ -n "$(fetch "$name.owner")" ] && { rgm_log info "demo $name serving $dir on $address:$port"; exit $OCF_SUCCESS; }
      running || break
      sleep 0.1; i=$((i + 1))
    done
    rgm_log err "demo $name did not start serving on $address:$port"
    exit $OCF_ERR_GENERIC ;;
  stop)
    if running; then
      pid="$(cat "$pidfile")"
      kill "$pid"
      i=0
      while running && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
      kill -9 "$pid" 2>/dev/null
    fi
    rm -f "$pidfile"
    exit $OCF_SUCCESS ;;
  status|monitor)
    running || exit $OCF_NOT_RUNNING
    if [ "${OCF_CHECK_LEVEL:-0}" -ge 10 ]; then
      [ -n "$(fetch "$name.owner")" ] || { rgm_log err "demo $name: no answer on $address:$port"; exit $OCF_ERR_GENERIC; }
    fi
    exit $OCF_SUCCESS ;;
  *) rgm_usage ;;
esac
