#!/usr/bin/env bash
# A one-node SLURM cluster on this machine, for tests: munge, slurmctld, slurmd, a fake GPU.
#   tests/slurm/cluster.sh install        # Debian's slurm-wlm and munge (root)
#   tests/slurm/cluster.sh start DIR      # config, state and PID files under DIR
#   tests/slurm/cluster.sh stop DIR       # stops exactly the daemons that start started, by PID
set -euo pipefail
cmd=${1:?install|start|stop}

install() {
  command -v slurmctld >/dev/null && command -v munged >/dev/null && return
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null
}

start() {
  local dir host mem
  dir=$(realpath -m "${1:?DIR}")
  mkdir -p "$dir/state" "$dir/spool" /etc/slurm /run/munge
  host=$(hostname -s)
  mem=$(( $(slurmd -C | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p') - 1000 ))
  cat >"$dir/slurm.conf" <<CONF
ClusterName=cxrloc-test
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/linux
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
MinJobAge=300
DefMemPerCPU=500
MailProg=/bin/true
SchedulerType=sched/backfill
GresTypes=gpu
NodeName=$host CPUs=$(nproc) Boards=1 SocketsPerBoard=1 CoresPerSocket=$(nproc) ThreadsPerCore=1 RealMemory=$mem Gres=gpu:1 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
  echo "NodeName=$host Name=gpu File=/dev/null" >"$dir/gres.conf"
  # The executor plugin drops SLURM_* variables before its inner srun, so the files must be at the default paths.
  ln -sfn "$dir/slurm.conf" /etc/slurm/slurm.conf
  ln -sfn "$dir/gres.conf" /etc/slurm/gres.conf
  chown munge:munge /run/munge
  if ! munge -n </dev/null >/dev/null 2>&1; then
    runuser -u munge -- /usr/sbin/munged --pid-file=/run/munge/munged.pid
    cp /run/munge/munged.pid "$dir/munged.pid"
    for _ in $(seq 40); do munge -n </dev/null >/dev/null 2>&1 && break; sleep 0.25; done
  fi
  setsid slurmctld -D -i >"$dir/ctld.log" 2>&1 </dev/null & echo $! >"$dir/ctld.pid"
  setsid slurmd -D >"$dir/d.log" 2>&1 </dev/null & echo $! >"$dir/d.pid"
  for _ in $(seq 60); do
    sinfo -h -o %t 2>/dev/null | grep -qE '^(idle|mix)' && { sinfo; return; }
    sleep 0.5
  done
  echo "SLURM did not come up; see $dir/ctld.log and $dir/d.log" >&2
  return 1
}

stop() {
  local dir pid
  dir=$(realpath -m "${1:?DIR}")
  for f in d ctld munged; do
    [ -f "$dir/$f.pid" ] || continue
    pid=$(cat "$dir/$f.pid")
    kill "$pid" 2>/dev/null || continue
    for _ in $(seq 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
  done
}

"$cmd" "${@:2}"
