# SPDX-License-Identifier: Apache-2.0
# Shared by the project's rgmanager-vocabulary agents: OCF exit codes, the metadata frame, and delegation to the
# maintained OCF agents of Debian's resource-agents package. Sourced, never run.

OCF_SUCCESS=0
OCF_ERR_GENERIC=1
OCF_ERR_ARGS=2
OCF_ERR_UNIMPLEMENTED=3
OCF_ERR_PERM=4
OCF_ERR_INSTALLED=5
OCF_ERR_CONFIGURED=6
OCF_NOT_RUNNING=7

: "${OCF_ROOT:=/usr/lib/ocf}"
export OCF_ROOT

rgm_log() { echo "<$1>   $2" >&2; }

# rgm_bool VALUE: prints "true" for rgmanager's 1/yes/on/true, "false" otherwise.
rgm_bool() {
  case "$(echo "$1" | tr '[:upper:]' '[:lower:]')" in
    1|yes|on|true) echo true ;;
    *) echo false ;;
  esac
}

# rgm_delegate AGENT ACTION: runs the resource-agents OCF agent AGENT (provider heartbeat) for ACTION, with the
# OCF_RESKEY_* the caller prepared. rgmanager's actions map to OCF ones: status -> monitor, recover -> start,
# reconfig -> reload. A missing agent fails start and status with OCF_ERR_INSTALLED; stop succeeds, since nothing
# of it can be running.
rgm_delegate() {
  agent="$OCF_ROOT/resource.d/heartbeat/$1"
  action="$2"
  case "$action" in
    status) action=monitor ;;
    recover) action=start ;;
    reconfig) action=reload ;;
  esac
  if [ ! -x "$agent" ]; then
    [ "$action" = stop ] && exit $OCF_SUCCESS
    rgm_log err "$agent is not installed (Debian package resource-agents)"
    exit $OCF_ERR_INSTALLED
  fi
  exec "$agent" "$action"
}

# rgm_usage ACTION: the answer for an action the agent does not know.
rgm_usage() {
  echo "usage: $(basename "$0") {start|stop|status|monitor|recover|meta-data|validate-all}" >&2
  exit $OCF_ERR_UNIMPLEMENTED
}
