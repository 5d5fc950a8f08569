#!/usr/bin/env bash
# Copied from the project's shared tools (shared/tools/slurm-single-node.sh, tested on this machine
# kind) so that CI on a fresh clone does not depend on ../shared. Keep the two in step.
# A real single-node SLURM cluster on this machine kind (Debian 12, SLURM 22.05, root, no
# systemd, no cgroups), with one fake GPU so that jobs asking for --gpus=1 / --gres=gpu:1 are
# scheduled. For tests of `snakemake --executor slurm` (snakemake-executor-plugin-slurm).
#
#   slurm-single-node.sh up     install (apt), configure, start munged [mariadb slurmdbd]
#                               slurmctld slurmd; returns when the node is idle
#   slurm-single-node.sh down   stop exactly the daemons that `up` started (pidfiles)
#
# ACCOUNTING=1 (default) also starts slurmdbd + MariaDB so that `sacct` works. The plugin polls
# job status with sacct whenever sacct exists, and without accounting it waits forever; with
# ACCOUNTING=0 run snakemake with `--slurm-status-command squeue` instead.
# With accounting, pass `slurm_account=root` (slurmctld creates that account itself).
# `--slurm-init-seconds-before-status-checks 2` cuts the plugin's 40 s first wait.
# A stuck snakemake ignores SIGTERM while jobs run: bound it with `timeout -k 10 N`.
# Pitfall: the plugin runs `scontrol show config` on import. With the SLURM client installed and
# no controller up, every snakemake call (even `snakemake --version`) then waits ~9 s (~59 s with
# no slurm.conf). After `down`, remove the client (`apt-get remove -y slurm-wlm slurmctld slurmd
# slurm-client slurmdbd`) or keep the plugin in a separate environment.
set -euo pipefail
W=${SLURM_WORKDIR:-${TMPDIR:-/tmp}/slurm-single-node}
ACCOUNTING=${ACCOUNTING:-1}
export DEBIAN_FRONTEND=noninteractive

down() {
  for f in "$W/slurmd.pid" "$W/slurmctld.pid" "$W/slurmdbd.pid" "$W/mariadb.pid" "$W/munged.pid"; do
    [ -s "$f" ] || continue
    p=$(cat "$f"); kill "$p" 2>/dev/null || { rm -f "$f"; continue; }
    for _ in $(seq 40); do kill -0 "$p" 2>/dev/null || break; sleep 0.25; done
    rm -f "$f"
  done
}

up() {
  apt-get update -q >/dev/null
  local pkgs="slurm-wlm munge"; [ "$ACCOUNTING" = 1 ] && pkgs="$pkgs slurmdbd mariadb-server"
  apt-get install -y -q $pkgs >/dev/null   # nothing auto-starts: no systemd here

  rm -rf "$W/spool" "$W/logs"; mkdir -p "$W/logs" "$W/spool/ctld" "$W/spool/d"
  local h; h=$(hostname -s)
  getent hosts "$h" >/dev/null || echo "127.0.0.1 $h" >> /etc/hosts
  local mem=$(( $(free -m | awk '/^Mem:/{print $2}') - 1024 ))   # above physical => drained
  local node; node=$(slurmd -C | head -1 | sed 's/ RealMemory=[0-9]*//')   # real topology
  local acct="AccountingStorageType=accounting_storage/none"
  if [ "$ACCOUNTING" = 1 ]; then
    acct="AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStoragePort=6819
AccountingStorageTRES=gres/gpu"
  fi
  cat > /etc/slurm/slurm.conf <<EOF
ClusterName=ci
SlurmctldHost=$h
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1024
SchedulerType=sched/backfill
ReturnToService=2
MinJobAge=300
StateSaveLocation=$W/spool/ctld
SlurmdSpoolDir=$W/spool/d
SlurmctldPidFile=$W/slurmctld.pid
SlurmdPidFile=$W/slurmd.pid
SlurmctldLogFile=$W/logs/slurmctld.log
SlurmdLogFile=$W/logs/slurmd.log
$acct
GresTypes=gpu
$node RealMemory=$mem Gres=gpu:1 State=UNKNOWN
PartitionName=debug Nodes=$h Default=YES MaxTime=INFINITE State=UP
EOF
  # SLURM 22.05 drops a GPU without a device file and then drains the node: point it at /dev/null.
  echo "NodeName=$h Name=gpu File=/dev/null AutoDetect=off" > /etc/slurm/gres.conf

  [ -s /etc/munge/munge.key ] || { mungekey -c -k /etc/munge/munge.key; chown munge:munge /etc/munge/munge.key; chmod 400 /etc/munge/munge.key; }
  install -d -o munge -g munge -m 755 /run/munge
  runuser -u munge -- /usr/sbin/munged   # writes /run/munge/munged.pid
  for _ in $(seq 20); do [ -s /run/munge/munged.pid ] && break; sleep 0.25; done
  cp /run/munge/munged.pid "$W/munged.pid"
  munge -n | unmunge >/dev/null

  if [ "$ACCOUNTING" = 1 ]; then
    install -d -o mysql -g mysql /run/mysqld
    setsid nohup /usr/sbin/mariadbd --user=mysql > "$W/logs/mariadb.log" 2>&1 < /dev/null &
    echo $! > "$W/mariadb.pid"
    for _ in $(seq 60); do mariadb-admin ping >/dev/null 2>&1 && break; sleep 0.5; done
    mariadb -e "CREATE DATABASE IF NOT EXISTS slurm_acct_db;
      CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY 'slurmpw';
      GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';"
    cat > /etc/slurm/slurmdbd.conf <<EOF
AuthType=auth/munge
DbdHost=localhost
DbdPort=6819
SlurmUser=root
LogFile=$W/logs/slurmdbd.log
PidFile=$W/slurmdbd.pid
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=slurm
StoragePass=slurmpw
StorageLoc=slurm_acct_db
EOF
    chmod 600 /etc/slurm/slurmdbd.conf   # slurmdbd refuses a world-readable file
    slurmdbd
    for _ in $(seq 60); do (exec 3<>/dev/tcp/127.0.0.1/6819) 2>/dev/null && break; sleep 0.5; done
  fi

  slurmctld
  slurmd
  for _ in $(seq 60); do [ "$(sinfo -h -o %t)" = idle ] && break; sleep 1; done
  if [ "$(sinfo -h -o %t)" != idle ]; then
    scontrol show node; tail -n 30 "$W"/logs/*.log; exit 1
  fi
  sinfo
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
