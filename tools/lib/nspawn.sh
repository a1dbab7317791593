# shellcheck shell=bash
# Debian 12 containers booted with systemd as PID 1, one network namespace each on a private bridge.
# Sourced by tools/systemd-test. Everything made here is recorded in $work and removed by nspawn_cleanup.
#
# Needs: $work (an empty directory it owns), $tag (a short unique word for netns names), root.

nspawn_nodes=()      # node numbers booted
declare -A nspawn_pid leader

# A minimal Debian 12 with systemd and the libraries the stack links; $1 is the directory to fill.
nspawn_debootstrap() {
  local dir=$1 mirror=${2:-http://deb.debian.org/debian}
  debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus,procps,libqb100,libxml2,libssl3,libstdc++6 \
    bookworm "$dir" "$mirror" > "$work/debootstrap.log" 2>&1 || { tail -20 "$work/debootstrap.log" >&2; return 1; }
}

# Makes root file system $1 bootable by several containers at once, read-only with a volatile overlay.
nspawn_prepare() {
  # Under --read-only this unit fails for no use; the containers' writes go to a tmpfs overlay anyway.
  ln -sf /dev/null "$1/etc/systemd/system/systemd-remount-fs.service"
  # debootstrap copies the host's name here, and systemd would set it over nspawn's --hostname.
  rm -f "$1/etc/hostname"
}

# The bridge lives in a network namespace of its own, so the host's network is never touched.
nspawn_network() {
  local n=$1 k
  ip netns add "$tag-br"
  ip -n "$tag-br" link add br0 type bridge mcast_snooping 0
  ip -n "$tag-br" link set br0 up
  for k in $(seq 1 "$n"); do
    ip netns add "$tag-n$k"
    ip -n "$tag-br" link add "p$k" type veth peer name eth0 netns "$tag-n$k"
    ip -n "$tag-br" link set "p$k" master br0 up
    ip -n "$tag-n$k" link set lo up
    ip -n "$tag-n$k" addr add "10.99.0.$k/24" dev eth0
    ip -n "$tag-n$k" link set eth0 up
    ip -n "$tag-n$k" route add 224.0.0.0/4 dev eth0
  done
}

# Boots node $1 from the shared root $2 (read-only, with a volatile overlay: the nodes never share a write). Its
# journal is kept in $work/node$1.journal, readable with journalctl -D after the container is gone.
nspawn_boot() {
  local k=$1 rootfs=$2 i
  mkdir -p "$work/node$k.journal"
  systemd-nspawn -D "$rootfs" --read-only --volatile=overlay -b --register=no --keep-unit --console=pipe \
    -M "node$k" --hostname="node$k" --network-namespace-path="/run/netns/$tag-n$k" \
    --bind="$work/node$k.journal:/var/log/journal" </dev/null >"$work/node$k.console" 2>&1 &
  nspawn_pid[$k]=$!
  nspawn_nodes+=("$k")
  # nspawn's first child only sets the container up; the leader is the process that becomes its systemd.
  for i in $(seq 1 100); do
    leader[$k]=$(pgrep -P "${nspawn_pid[$k]}" | head -1 || true)
    [ -n "${leader[$k]}" ] && [ "$(cat "/proc/${leader[$k]}/comm" 2>/dev/null)" = systemd ] && return 0
    sleep 0.1
  done
  echo "node$k: the container did not start; console:" >&2
  tail -20 "$work/node$k.console" >&2
  return 1
}

# Runs a command inside node $1 (all its namespaces), bounded by $NSPAWN_TIMEOUT seconds (default 30).
on() {
  local k=$1; shift
  timeout -k 2 "${NSPAWN_TIMEOUT:-30}" nsenter -t "${leader[$k]}" -a -- \
    env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 "$@"
}

# Waits until node $1's systemd has finished booting (running, or degraded with the failed units named).
nspawn_wait_booted() {
  local k=$1 state="" deadline=$(( $(date +%s) + 60 ))
  # Until its systemd listens on its private socket, systemctl answers nothing at all: ask again (60 s at most).
  while [ -z "$state" ] && [ "$(date +%s)" -lt "$deadline" ]; do
    state=$(on "$k" systemctl is-system-running --wait 2>/dev/null || true)
    [ -n "$state" ] || sleep 0.2
  done
  case "$state" in
    running) return 0 ;;
    degraded) echo "node$k: degraded; failed units: $(on "$k" systemctl --failed --plain --no-legend | tr '\n' ' ')" >&2; return 0 ;;
    *) echo "node$k: systemd did not finish booting ($state)" >&2; return 1 ;;
  esac
}

# Every process below $1, children before grandchildren.
nspawn_descendants() {
  local p
  for p in $(pgrep -P "$1" || true); do echo "$p"; nspawn_descendants "$p"; done
}

# Powers node $1 off and waits (bounded) for its nspawn to exit; returns nspawn's exit status.
nspawn_poweroff() {
  local k=$1 i
  [ -n "${nspawn_pid[$k]:-}" ] || return 0
  on "$k" systemctl poweroff --no-block >/dev/null 2>&1 || true
  for i in $(seq 1 300); do
    kill -0 "${nspawn_pid[$k]}" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "${nspawn_pid[$k]}" 2>/dev/null; then
    echo "node$k: did not power off within 30 s; killing it" >&2
    # nspawn's children first: killed alone, nspawn would leave the container's systemd running under the host's
    # PID 1. SIGKILL of the container's init ends every process in its PID namespace.
    kill -KILL $(nspawn_descendants "${nspawn_pid[$k]}") 2>/dev/null || true
    for i in $(seq 1 50); do kill -0 "${nspawn_pid[$k]}" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "${nspawn_pid[$k]}" 2>/dev/null || true
  fi
  local status=0
  wait "${nspawn_pid[$k]}" 2>/dev/null || status=$?
  unset "nspawn_pid[$k]"
  return $status
}

# Powers off whatever is still running, then removes the network namespaces and nspawn's lock on the root.
nspawn_cleanup() {
  local k ns
  for k in "${nspawn_nodes[@]}"; do
    [ -n "${nspawn_pid[$k]:-}" ] && { nspawn_poweroff "$k" || true; }
  done
  # A container that had to be killed leaves nspawn's lock on its root directory behind.
  [ -d "$work/rootfs" ] && rm -f "/run/systemd/nspawn/locks/inode-$(stat -c '%d:%i' "$work/rootfs")"
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^$tag-(br|n[0-9]+)$" || true); do
    ip netns delete "$ns"
  done
}
