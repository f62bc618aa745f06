#!/usr/bin/env bash
# A single-node Slurm on localhost for tests/slurm (Debian's slurm-wlm 22.05 and munge, as root).
#
#   setup_slurm.sh install   apt-get install the packages (skipped when already installed)
#   setup_slurm.sh start     write the test cluster's config, start munged, slurmctld and slurmd,
#                            wait until the node takes jobs
#   setup_slurm.sh stop      stop the daemons this script started (by the pids it recorded)
#   setup_slurm.sh status    exit 0 when the test cluster answers
#
# Every step is idempotent. The config goes to the default /etc/slurm/slurm.conf because the jobs the
# Snakemake plugin submits call `srun`, which reads the default path. An /etc/slurm/slurm.conf that
# this script did not write (no marker line) is never overwritten: `start` stops with status 3.
#
# The node offers one GPU that does not exist (gres.conf File=/dev/null), so that Slurm schedules
# and grants GPU requests; the jobs fall back to the CPU. The node is declared with at least 16 CPUs
# and 65536 MB (SlurmdParameters=config_overrides) so that the requests of profiles/default (4 CPUs
# and 16000 MB for train) are granted as written on a 2-core machine; nothing enforces them (no
# cgroups, task/none), they are scheduling figures only.
# MinJobAge is an hour so that `squeue` (the test's status command, there is no slurmdbd) and
# `scontrol show job` still see finished jobs.
set -euo pipefail

MARKER="# nuwire test cluster (tests/slurm/setup_slurm.sh)"
CONF_DIR=/etc/slurm
STATE=/var/lib/nuwire-test-slurm
PACKAGES=(munge slurmctld slurmd slurm-client)
HOST=$(hostname -s)

log() { echo "setup_slurm: $*" >&2; }

need_root() {
    if [ "$(id -u)" -ne 0 ]; then
        log "must run as root (munged, slurmctld and slurmd are started as system daemons)"
        exit 2
    fi
}

have_binaries() {
    command -v munged >/dev/null && command -v slurmctld >/dev/null && command -v slurmd >/dev/null \
        && command -v sbatch >/dev/null
}

cmd_install() {
    need_root
    if have_binaries; then
        log "Slurm and munge are installed"
        return 0
    fi
    log "installing ${PACKAGES[*]}"
    export DEBIAN_FRONTEND=noninteractive
    local attempt
    for attempt in 1 2 3; do
        if apt-get update -qq && apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" >/dev/null; then
            break
        fi
        [ "$attempt" -lt 3 ] || { log "apt-get failed 3 times"; exit 1; }
        log "apt-get failed (attempt $attempt); retrying in 10 s"
        sleep 10
    done
    have_binaries || { log "packages installed but the binaries are missing"; exit 1; }
}

ours() { [ -f "$CONF_DIR/slurm.conf" ] && head -n 1 "$CONF_DIR/slurm.conf" | grep -qF "$MARKER"; }

write_config() {
    if [ -f "$CONF_DIR/slurm.conf" ] && ! ours; then
        log "$CONF_DIR/slurm.conf exists and was not written by this script; not touching it"
        exit 3
    fi
    local cpus mem
    cpus=$(nproc)
    [ "$cpus" -ge 16 ] || cpus=16
    mem=$(awk '/^MemTotal:/ {print int($2 / 1024)}' /proc/meminfo)
    [ "$mem" -ge 65536 ] || mem=65536
    mkdir -p "$CONF_DIR" "$STATE"/{ctld,spool,log}
    cat >"$CONF_DIR/slurm.conf.new" <<EOF
$MARKER
ClusterName=nuwiretest
SlurmctldHost=$HOST(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/spool
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
TaskProlog=$CONF_DIR/nuwire-task-prolog.sh
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
MailProg=/bin/true
SwitchType=switch/none
ReturnToService=2
MinJobAge=3600
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SlurmdParameters=config_overrides
GresTypes=gpu
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem Gres=gpu:1 State=UNKNOWN
PartitionName=debug Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
EOF
    mv "$CONF_DIR/slurm.conf.new" "$CONF_DIR/slurm.conf"
    cat >"$CONF_DIR/gres.conf" <<EOF
$MARKER
NodeName=$HOST Name=gpu File=/dev/null Count=1
EOF
    # Runs before every task, as the job's user, in the task's environment: when the submit
    # directory has a .slurm-task-env/ (the test makes one), it records the GPU variables the task
    # saw. Prints nothing, so it changes nothing in the task's environment.
    cat >"$CONF_DIR/nuwire-task-prolog.sh" <<'EOF'
#!/bin/sh
dir="${SLURM_SUBMIT_DIR:-/nonexistent}/.slurm-task-env"
[ -d "$dir" ] || exit 0
{
    echo "SLURM_JOB_ID=${SLURM_JOB_ID:-}"
    echo "SLURM_STEP_ID=${SLURM_STEP_ID:-}"
    echo "SLURM_JOB_NAME=${SLURM_JOB_NAME:-}"
    echo "SLURM_JOB_GPUS=${SLURM_JOB_GPUS:-}"
    echo "SLURM_STEP_GPUS=${SLURM_STEP_GPUS:-}"
    echo "CUDA_VISIBLE_DEVICES=${CUDA_VISIBLE_DEVICES:-}"
} >"$dir/${SLURM_JOB_ID:-unknown}.${SLURM_STEP_ID:-batch}.env" 2>/dev/null || true
exit 0
EOF
    chmod 0755 "$CONF_DIR/nuwire-task-prolog.sh"
}

running() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

munge_ok() { munge -n 2>/dev/null | unmunge >/dev/null 2>&1; }

start_munge() {
    if munge_ok; then
        return 0
    fi
    [ -s /etc/munge/munge.key ] || { mungekey --create --keyfile=/etc/munge/munge.key >/dev/null; }
    chown munge:munge /etc/munge/munge.key && chmod 0400 /etc/munge/munge.key
    install -d -o munge -g munge -m 0755 /run/munge
    install -d -o munge -g munge -m 0700 /var/lib/munge /var/log/munge
    rm -f /run/munge/munged.pid
    runuser -u munge -- /usr/sbin/munged --force
    # munged daemonizes and writes its own pid file; keep a copy so `stop` ends only that process.
    for _ in $(seq 50); do munge_ok && break; sleep 0.2; done
    munge_ok || { log "munged did not start"; exit 1; }
    cp /run/munge/munged.pid "$STATE/munged.pid"
}

node_ready() {
    local state
    state=$(sinfo -h -n "$HOST" -o %t 2>/dev/null | head -n 1)
    case "$state" in idle | mix | alloc) return 0 ;; *) return 1 ;; esac
}

cmd_start() {
    need_root
    have_binaries || { log "Slurm is not installed (run: $0 install)"; exit 2; }
    write_config
    start_munge
    if ! running "$STATE/slurmctld.pid"; then
        # -c: start from a clean state (no jobs of an earlier test run); -i: ignore old state errors.
        /usr/sbin/slurmctld -c -i
    fi
    for _ in $(seq 100); do scontrol ping >/dev/null 2>&1 && break; sleep 0.2; done
    scontrol ping >/dev/null 2>&1 || { log "slurmctld does not answer; see $STATE/log/slurmctld.log"; tail -n 20 "$STATE/log/slurmctld.log" >&2 || true; exit 1; }
    if ! running "$STATE/slurmd.pid"; then
        /usr/sbin/slurmd -c -N "$HOST"
    fi
    for _ in $(seq 150); do node_ready && break; sleep 0.2; done
    if ! node_ready; then
        # A node left DOWN or DRAINED by an earlier run: bring it back once.
        scontrol update NodeName="$HOST" State=RESUME >/dev/null 2>&1 || true
        for _ in $(seq 50); do node_ready && break; sleep 0.2; done
    fi
    node_ready || { log "node $HOST is not idle: $(sinfo -h -N -o '%N %t %E' 2>&1)"; tail -n 20 "$STATE/log/slurmd.log" >&2 || true; exit 1; }
    log "single-node Slurm is up: $(sinfo -h -N -o '%N %t cpus=%c mem=%m gres=%G')"
}

stop_pidfile() {
    local pidfile=$1 name=$2 pid
    running "$pidfile" || { rm -f "$pidfile"; return 0; }
    pid=$(cat "$pidfile")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
        log "$name ($pid) did not stop on SIGTERM; sending SIGKILL"
        kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$pidfile"
}

cmd_stop() {
    need_root
    stop_pidfile "$STATE/slurmd.pid" slurmd
    stop_pidfile "$STATE/slurmctld.pid" slurmctld
    stop_pidfile "$STATE/munged.pid" munged
    log "stopped"
}

cmd_status() {
    ours && scontrol ping >/dev/null 2>&1 && node_ready
}

case "${1:-}" in
    install) cmd_install ;;
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    *)
        echo "usage: $0 install|start|stop|status" >&2
        exit 64
        ;;
esac
