#!/usr/bin/env bash
# A throw-away one-node Slurm cluster on this machine, for `npm run test:slurm`:
#
#   scripts/slurm-cluster.sh start DIR   # munged, slurmctld, slurmd; prints the slurm.conf path
#   scripts/slurm-cluster.sh stop DIR    # stops exactly the daemons started in DIR (their pid files)
#
# Everything lives in DIR (a new temp folder): munge key and socket, slurm.conf with free ports,
# state, spool, logs. Needs root and Debian's slurm-wlm and munge (apt-get install -y slurm-wlm
# munge); touches no system configuration. munged runs as the munge user, slurmctld and slurmd as
# root, with proctrack/linuxproc and task/none (no cgroups needed) and select/cons_tres, one node
# (this machine's hostname at 127.0.0.1) with all its CPUs.
set -euo pipefail

cmd=${1:-}
dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: $0 start|stop DIR" >&2; exit 2; }

stop() {
  # The cluster's jobs first (they are all ours: the cluster is private to DIR), so no job
  # process outlives the daemons.
  if [ -f "$dir/slurm.conf" ] && [ -f "$dir/slurmctld.pid" ] && kill -0 "$(cat "$dir/slurmctld.pid")" 2>/dev/null; then
    SLURM_CONF="$dir/slurm.conf" scancel --user="$(id -un)" 2>/dev/null || true
    for _ in $(seq 1 100); do
      [ -z "$(SLURM_CONF="$dir/slurm.conf" squeue -h -o %i 2>/dev/null)" ] && break
      sleep 0.2
    done
  fi
  # Each daemon by the pid it wrote; slurmd first so no job step outlives its controller.
  for name in slurmd slurmctld munged; do
    local pidfile="$dir/$name.pid"
    [ -f "$pidfile" ] || continue
    local pid
    pid=$(cat "$pidfile" 2>/dev/null || true)
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$pidfile"
  done
}

free_port() {
  local p
  for _ in $(seq 1 100); do
    p=$((20000 + RANDOM % 20000))
    # Nothing answers a connection there (bash's /dev/tcp: no iproute2 needed).
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
  done
  echo "no free port found" >&2
  exit 1
}

case "$cmd" in
  stop)
    stop
    exit 0
    ;;
  start)
    ;;
  *)
    echo "usage: $0 start|stop DIR" >&2
    exit 2
    ;;
esac

[ "$(id -u)" = 0 ] || { echo "$0: must run as root (starts slurmctld and slurmd)" >&2; exit 1; }
for bin in munged slurmctld slurmd sbatch; do
  command -v "$bin" >/dev/null 2>&1 || [ -x "/usr/sbin/$bin" ] || { echo "$0: $bin not found: apt-get install -y slurm-wlm munge" >&2; exit 1; }
done
export PATH="$PATH:/usr/sbin"

mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
host=$(hostname -s)
cpus=$(nproc)

# munge: its own key, socket and files, owned by the munge user (munged refuses group- or
# world-writable places and will not run as root).
mkdir -p "$dir/munge"
chmod 755 "$dir"
chmod 755 "$dir/munge"
dd if=/dev/urandom of="$dir/munge/munge.key" bs=1 count=1024 status=none
chmod 400 "$dir/munge/munge.key"
chown -R munge:munge "$dir/munge"
su -s /bin/sh munge -c "munged --socket='$dir/munge/munge.sock' --key-file='$dir/munge/munge.key' \
  --pid-file='$dir/munge/munged.pid' --log-file='$dir/munge/munged.log' --seed-file='$dir/munge/munged.seed'"
for _ in $(seq 1 50); do [ -S "$dir/munge/munge.sock" ] && break; sleep 0.1; done
[ -S "$dir/munge/munge.sock" ] || { echo "$0: munged did not start (see $dir/munge/munged.log)" >&2; exit 1; }
cp "$dir/munge/munged.pid" "$dir/munged.pid"

mkdir -p "$dir/state" "$dir/spool" "$dir/log"
ctld_port=$(free_port)
slurmd_port=$(free_port)
while [ "$slurmd_port" = "$ctld_port" ]; do slurmd_port=$(free_port); done
cat > "$dir/slurm.conf" <<EOF
ClusterName=fat2019test
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge/munge.sock
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
MpiDefault=none
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
ReturnToService=2
JobRequeue=1
MinJobAge=3600
KillWait=5
SchedulerParameters=sched_interval=2
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus State=UNKNOWN
PartitionName=test Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF="$dir/slurm.conf"
slurmctld -f "$SLURM_CONF"
slurmd -f "$SLURM_CONF"

# Ready when the node is idle (slurmd registered), within a minute.
for _ in $(seq 1 120); do
  state=$(sinfo -h -n "$host" -o '%t' 2>/dev/null || true)
  [ "$state" = idle ] && break
  sleep 0.5
done
if [ "${state:-}" != idle ]; then
  echo "$0: node $host is not idle after 60 s (state: ${state:-unknown}); logs in $dir/log" >&2
  tail -n 20 "$dir/log/slurmctld.log" "$dir/log/slurmd.log" >&2 || true
  stop
  exit 1
fi
echo "$SLURM_CONF"
