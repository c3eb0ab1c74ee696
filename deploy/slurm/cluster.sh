#!/usr/bin/env bash
# Starts or stops a single-node Slurm cluster on this machine (Debian's
# slurm-wlm and munge), for revplan's Slurm test and for trying the array
# job of the README by hand. Needs root.
#
#   deploy/slurm/cluster.sh start   # then: export SLURM_CONF=$STATE/slurm.conf
#   deploy/slurm/cluster.sh stop    # stops what start started, by PID
#
# STATE (default /tmp/revplan-slurm) holds slurm.conf, the daemons' state,
# logs and PID files; nothing under /etc/slurm is touched.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
state="${REVPLAN_SLURM_STATE:-/tmp/revplan-slurm}"
export SLURM_CONF="$state/slurm.conf"

log() { printf 'slurm: %s\n' "$*" >&2; }

start_munge() {
  if munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1; then
    log "munged already running"
    return
  fi
  if [ ! -s /etc/munge/munge.key ]; then
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
  fi
  chown munge:munge /etc/munge/munge.key
  chmod 400 /etc/munge/munge.key
  mkdir -p /run/munge /var/log/munge /var/lib/munge
  chown munge:munge /run/munge /var/log/munge /var/lib/munge
  runuser -u munge -- /usr/sbin/munged
  echo started >"$state/munged.ours"
  for _ in $(seq 50); do
    if munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1; then return; fi
    sleep 0.1
  done
  log "munged did not answer"; return 1
}

start() {
  mkdir -p "$state/slurmctld" "$state/slurmd"
  local host cpus memory
  host="$(hostname -s)"
  cpus="$(nproc)"
  memory="$(awk '/MemTotal/ { printf "%d", $2 / 1024 * 0.9 }' /proc/meminfo)"
  sed -e "s|@HOST@|$host|g" -e "s|@CPUS@|$cpus|g" -e "s|@MEMORY_MB@|$memory|g" \
      -e "s|@STATE@|$state|g" "$here/slurm.conf.in" >"$state/slurm.conf"
  start_munge
  /usr/sbin/slurmctld
  /usr/sbin/slurmd
  for _ in $(seq 120); do
    if [ "$(sinfo -h -o %t 2>/dev/null)" = idle ]; then
      log "cluster up: node $host, $cpus CPUs (SLURM_CONF=$SLURM_CONF)"
      return
    fi
    sleep 0.5
  done
  log "the node did not become idle within 60 s:"
  sinfo >&2 || true
  tail -n 20 "$state/slurmctld.log" "$state/slurmd.log" >&2 || true
  return 1
}

stop_pid() {
  local file="$1"
  [ -s "$file" ] || return 0
  local pid
  pid="$(cat "$file")"
  kill "$pid" 2>/dev/null || return 0
  for _ in $(seq 50); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -9 "$pid" 2>/dev/null || true
}

stop() {
  stop_pid "$state/slurmd.pid"
  stop_pid "$state/slurmctld.pid"
  if [ -e "$state/munged.ours" ]; then
    stop_pid /run/munge/munged.pid
    rm -f "$state/munged.ours"
  fi
  log "cluster stopped"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
