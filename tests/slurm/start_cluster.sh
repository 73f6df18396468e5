#!/usr/bin/env bash
# A single-node SLURM cluster with accounting on this machine, for tests/test_slurm_cluster.py and developers:
#   tests/slurm/start_cluster.sh [DIR]         install the Debian packages when missing, start the daemons, wait
#                                               until the node is idle
#   tests/slurm/start_cluster.sh --stop [DIR]  kill the daemons started from DIR by their PIDs, remove the links
# Everything (configs, munge key, spool, logs, MariaDB datadir, PIDs) lives in DIR (default $SLIDESNAKE_SLURM_DIR
# or /tmp/slidesnake-slurm), linked from /etc/slurm; start is idempotent. No systemd: the daemons are started by
# hand, as root (SlurmUser=root). The node has this machine's CPUs and memory (less 512 MB) and one count-only
# `gpu` GRES (File=/dev/null: no GPU to bind; without File slurmd reports 0 GPUs and the node is INVAL), so
# --gpus=1 jobs schedule; they see no GPU unless the machine has one. Ports 6817-6820: slurmctld, slurmd,
# slurmdbd, MariaDB. Exit status 3: this machine cannot run it (not root, or the packages are missing and cannot
# be installed).
set -euo pipefail

MODE=start
if [[ ${1:-} == --stop ]]; then MODE=stop && shift; fi
DIR=$(realpath -m "${1:-${SLIDESNAKE_SLURM_DIR:-/tmp/slidesnake-slurm}}")
PACKAGES=(slurm-wlm slurmdbd munge mariadb-server)
COMMANDS=(slurmctld slurmd slurmdbd sacctmgr sinfo munged mariadbd mariadb-install-db)
DAEMONS=(munged mariadbd slurmdbd slurmctld slurmd)  # start order; stop is the reverse
CLUSTER=slidesnake
ACCOUNT=slidesnake
CTLD_PORT=6817 SLURMD_PORT=6818 DBD_PORT=6819 DB_PORT=6820
CANNOT_RUN=3
# both at SLURM's default paths: the jobs' inner srun finds no config elsewhere (the jobstep plugin drops every
# SLURM_ variable, $SLURM_CONF included), and sacctmgr asked munged at the default socket despite slurm.conf's
# AuthInfo=socket=...
CONF_DIR=/etc/slurm
CONFIGS=(slurm.conf gres.conf slurmdbd.conf)
MUNGE_SOCKET=/run/munge/munge.socket.2

log() { echo "start_cluster.sh: $*" >&2; }
alive() { [[ -f $DIR/run/$1.pid ]] && kill -0 "$(cat "$DIR/run/$1.pid")" 2>/dev/null; }
missing() { for c in "${COMMANDS[@]}"; do command -v "$c" >/dev/null || return 0; done; return 1; }
wait_for() {  # wait_for SECONDS DESCRIPTION COMMAND...: until COMMAND succeeds
  local deadline=$((SECONDS + $1)) what=$2
  shift 2
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || { log "timed out waiting for $what (logs in $DIR/log)" && return 1; }
    sleep 0.5
  done
}

install_packages() {
  missing || return 0
  command -v apt-get >/dev/null || { log "no apt-get to install ${PACKAGES[*]}"; exit $CANNOT_RUN; }
  local start=$SECONDS policy=/usr/sbin/policy-rc.d created=""
  # keep the packages' init scripts from starting system-wide daemons: this cluster starts its own
  if [[ ! -e $policy ]]; then printf '#!/bin/sh\nexit 101\n' >$policy && chmod +x $policy && created=$policy; fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q --no-install-recommends "${PACKAGES[@]}" >"$DIR/log/apt.log" 2>&1 ||
    { apt-get update -q >>"$DIR/log/apt.log" 2>&1 &&
      apt-get install -y -q --no-install-recommends "${PACKAGES[@]}" >>"$DIR/log/apt.log" 2>&1; } ||
    { [[ -n $created ]] && rm -f "$created"; log "apt-get install failed (see $DIR/log/apt.log)"; exit $CANNOT_RUN; }
  [[ -n $created ]] && rm -f "$created"
  log "installed ${PACKAGES[*]} in $((SECONDS - start))s"
}

write_configs() {
  local host cpus memory
  host=$(hostname -s)
  cpus=$(nproc)
  memory=$(($(free -m | awk '/^Mem:/ {print $2}') - 512))  # MB, minus headroom for the daemons
  cat >"$DIR/etc/slurm.conf" <<EOF
ClusterName=$CLUSTER
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
StateSaveLocation=$DIR/spool/slurmctld
SlurmdSpoolDir=$DIR/spool/slurmd
SlurmctldPidFile=$DIR/spool/slurmctld.pid
SlurmdPidFile=$DIR/spool/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
MinJobAge=300
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStoragePort=$DBD_PORT
AccountingStoreFlags=job_comment
AccountingStorageTRES=gres/gpu
GresTypes=gpu
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$memory Gres=gpu:1 State=UNKNOWN
PartitionName=main Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
  echo "Name=gpu Count=1 File=/dev/null" >"$DIR/etc/gres.conf"
  cat >"$DIR/etc/slurmdbd.conf" <<EOF
AuthType=auth/munge
DbdHost=localhost
DbdPort=$DBD_PORT
SlurmUser=root
LogFile=$DIR/log/slurmdbd.log
PidFile=$DIR/spool/slurmdbd.pid
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$DB_PORT
StorageUser=slurm
StoragePass=slurm
StorageLoc=slurm_acct_db
EOF
  chmod 600 "$DIR/etc/slurmdbd.conf"
  for name in "${CONFIGS[@]}"; do
    if [[ -e $CONF_DIR/$name && $(readlink "$CONF_DIR/$name") != "$DIR/etc/$name" ]]; then
      log "$CONF_DIR/$name exists and is not this cluster's: not replacing another SLURM's config"
      exit 1
    fi
    ln -sfn "$DIR/etc/$name" "$CONF_DIR/$name"
  done
  if [[ ! -f $DIR/etc/munge.key ]]; then
    dd if=/dev/urandom of="$DIR/etc/munge.key" bs=1024 count=1 status=none
    chmod 400 "$DIR/etc/munge.key"
  fi
}

run_daemon() {  # run_daemon NAME COMMAND...: in the background, its PID in run/NAME.pid
  local name=$1
  shift
  alive "$name" && return 0
  "$@" >"$DIR/log/$name.out" 2>&1 </dev/null &
  echo $! >"$DIR/run/$name.pid"
}

sql() { mariadb --socket="$DIR/run/mysqld.sock" -u root -e "$1"; }
node_idle() { [[ $(sinfo -h -N -o %t) == idle ]]; }

start() {
  [[ $EUID == 0 ]] || { log "needs root (daemons as SlurmUser=root, configs linked from $CONF_DIR)"; exit $CANNOT_RUN; }
  mkdir -p "$DIR"/{etc,run,log,spool/slurmctld,spool/slurmd,db,munge} "$(dirname $MUNGE_SOCKET)" $CONF_DIR
  chmod 700 "$DIR/run" "$DIR/munge"
  local start=$SECONDS
  install_packages
  write_configs
  run_daemon munged munged --foreground --force --key-file="$DIR/etc/munge.key" --socket=$MUNGE_SOCKET \
    --pid-file="$DIR/munge/munged.pid" --seed-file="$DIR/munge/munged.seed" --log-file="$DIR/log/munged.log"
  if [[ ! -d $DIR/db/mysql ]]; then
    mariadb-install-db --user=root --datadir="$DIR/db" --auth-root-authentication-method=socket \
      >"$DIR/log/mariadb-install.log" 2>&1
  fi
  run_daemon mariadbd mariadbd --no-defaults --user=root --datadir="$DIR/db" --socket="$DIR/run/mysqld.sock" \
    --port=$DB_PORT --bind-address=127.0.0.1 --pid-file="$DIR/spool/mariadbd.pid" --log-error="$DIR/log/mariadbd.log"
  wait_for 60 MariaDB sql "SELECT 1"
  sql "CREATE DATABASE IF NOT EXISTS slurm_acct_db;
       CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY 'slurm';
       GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';"
  run_daemon slurmdbd slurmdbd -D
  wait_for 60 slurmdbd sacctmgr -n list cluster
  if [[ -z $(sacctmgr -n -P list cluster format=cluster where cluster=$CLUSTER) ]]; then
    sacctmgr -i add cluster $CLUSTER >/dev/null
    sacctmgr -i add account $ACCOUNT cluster=$CLUSTER >/dev/null
    sacctmgr -i add user root account=$ACCOUNT cluster=$CLUSTER >/dev/null
  fi
  run_daemon slurmctld slurmctld -D
  run_daemon slurmd slurmd -D -N "$(hostname -s)"
  wait_for 60 "the node to be idle" node_idle
  log "started in $((SECONDS - start))s: $(sinfo --version); daemons' PIDs in $DIR/run"
}

stop() {
  local name pid
  for ((i = ${#DAEMONS[@]} - 1; i >= 0; i--)); do
    name=${DAEMONS[i]}
    [[ -f $DIR/run/$name.pid ]] || continue
    pid=$(cat "$DIR/run/$name.pid")
    if kill -0 "$pid" 2>/dev/null; then
      kill "$pid"
      wait_for 30 "$name ($pid) to exit" bash -c "! kill -0 $pid" || kill -9 "$pid"
    fi
    rm -f "$DIR/run/$name.pid"
  done
  for name in "${CONFIGS[@]}"; do
    if [[ $(readlink "$CONF_DIR/$name") == "$DIR/etc/$name" ]]; then rm "$CONF_DIR/$name"; fi
  done
}

$MODE
