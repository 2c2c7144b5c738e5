# A throw-away single-node SLURM cluster for tests, sourced by tests/slurm/slurm_e2e.sh:
#   slurm_up DIR    starts munged, slurmctld and slurmd with state, spool, logs, sockets and a generated
#                   slurm.conf under DIR, exports SLURM_CONF, and waits until the node is idle;
#                   returns non-zero with the reason in $SLURM_UP_WHY when that cannot happen
#   slurm_down      stops the daemons slurm_up started (by their pid files)
# The settings are the ones that work without systemd, cgroups or a dedicated user (as in a container run
# as root): proctrack/linuxproc, task/none, no accounting, SlurmUser/SlurmdUser root, and munge on its own
# socket and key (AuthInfo/socket), so nothing of a system-wide SLURM or munge is used or touched.

slurm_free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null ||
    echo $((20000 + RANDOM % 20000))
}

slurm_log_tails() {
  local f
  for f in "$SLURM_TEST_DIR"/*.log; do
    [ -f "$f" ] && { echo "--- tail of $f"; tail -n 15 "$f"; }
  done
}

slurm_up() {
  SLURM_TEST_DIR=$1
  SLURM_UP_WHY=""
  local d=$SLURM_TEST_DIR prog
  for prog in munged slurmctld slurmd sbatch squeue sinfo scontrol; do
    command -v "$prog" >/dev/null 2>&1 || { SLURM_UP_WHY="$prog is not installed (apt-get install slurm-wlm munge)"; return 1; }
  done
  # munged wants its socket's directory searchable by all and not writable by others; the key stays 0400.
  mkdir -p "$d/state" "$d/spool" "$d/munge" && chmod 755 "$d" "$d/munge" || { SLURM_UP_WHY="cannot create $d"; return 1; }

  dd if=/dev/urandom of="$d/munge/munge.key" bs=1024 count=1 status=none && chmod 400 "$d/munge/munge.key"
  if ! munged --force --key-file="$d/munge/munge.key" --socket="$d/munge/munge.sock" --pid-file="$d/munge/munged.pid" \
      --log-file="$d/munged.log" --seed-file="$d/munge/munged.seed" 2>"$d/munged.err"; then
    SLURM_UP_WHY="munged did not start: $(tail -n 3 "$d/munged.err" "$d/munged.log" 2>/dev/null | tr '\n' ' ')"
    return 1
  fi

  local host cpus mem_mb
  host=$(hostname -s)
  cpus=$(nproc)
  mem_mb=$(awk '/MemTotal/ {print int($2 / 1024 * 0.9)}' /proc/meminfo)
  cat >"$d/slurm.conf" <<CONF
ClusterName=sptest
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$(slurm_free_port)
SlurmdPort=$(slurm_free_port)
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$d/munge/munge.sock
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$d/state
SlurmdSpoolDir=$d/spool
SlurmctldPidFile=$d/slurmctld.pid
SlurmdPidFile=$d/slurmd.pid
SlurmctldLogFile=$d/slurmctld.log
SlurmdLogFile=$d/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
MpiDefault=none
SwitchType=switch/none
ReturnToService=2
MaxArraySize=1001
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
  export SLURM_CONF=$d/slurm.conf
  if ! slurmctld -i -f "$SLURM_CONF" 2>"$d/slurmctld.err"; then
    SLURM_UP_WHY="slurmctld did not start: $(tail -n 3 "$d/slurmctld.err" "$d/slurmctld.log" 2>/dev/null | tr '\n' ' ')"
    return 1
  fi
  if ! slurmd -f "$SLURM_CONF" 2>"$d/slurmd.err"; then
    SLURM_UP_WHY="slurmd did not start: $(tail -n 3 "$d/slurmd.err" "$d/slurmd.log" 2>/dev/null | tr '\n' ' ')"
    return 1
  fi
  local i state=""
  for i in $(seq 1 60); do
    state=$(sinfo -h -N -o '%T' 2>/dev/null | head -n 1)
    [ "$state" = idle ] && return 0
    sleep 1
  done
  SLURM_UP_WHY="the node did not become idle within 60 s (state '$state'): $(tail -n 3 "$d/slurmd.log" "$d/slurmctld.log" 2>/dev/null | tr '\n' ' ')"
  return 1
}

slurm_down() {
  local d=$SLURM_TEST_DIR f pid
  [ -n "$d" ] || return 0
  for f in "$d/slurmd.pid" "$d/slurmctld.pid" "$d/munge/munged.pid"; do
    [ -f "$f" ] || continue
    pid=$(cat "$f")
    [ -n "$pid" ] && kill "$pid" 2>/dev/null
  done
  for f in "$d/slurmd.pid" "$d/slurmctld.pid" "$d/munge/munged.pid"; do
    [ -f "$f" ] || continue
    pid=$(cat "$f")
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null
  done
  return 0
}
