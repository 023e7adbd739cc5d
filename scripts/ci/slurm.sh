#!/usr/bin/env bash
# A real single-node SLURM cluster on localhost, from Debian 12's packages (slurm-wlm 22.05, munge,
# and for `sacct` slurmdbd + mariadb), for CI and for the tests that submit jobs through submitit.
# It needs root and no systemd: every daemon is started here by hand, with its config, sockets,
# pid files, state and logs under one directory, $VADLIB_SLURM_DIR (default /var/lib/vadlib-slurm).
#
#   slurm.sh install   apt-get install the packages. Always exits 0: when it cannot install it says
#                      so in one line "slurm: skipped: <why>" (and `start` then exits 3).
#   slurm.sh start     write the config, start munged, mariadb, slurmdbd, slurmctld, slurmd; wait until
#                      the node is idle; print sinfo. Exits 0 when up (also when it already was),
#                      3 when slurm is not available here (not installed, not root: skip the tests),
#                      1 when it failed to come up (the daemons' logs are printed).
#   slurm.sh stop      cancel the jobs, stop the daemons, kill leftovers. Exits 0, also when nothing runs.
#   slurm.sh status    sinfo + squeue; exits 0 when the node answers, 1 otherwise.
#   slurm.sh env       print the `export` lines for clients (SLURM_CONF); `eval "$(slurm.sh env)"`.
#   slurm.sh logs      print the tail of every daemon's log.
#
# Settings (environment): VADLIB_SLURM_DIR (state dir), VADLIB_SLURM_ACCOUNTING=slurmdbd|none
# (default slurmdbd when installed; with none, `sacct` does not work), VADLIB_SLURM_TIMEOUT (seconds
# `start` waits for the node, default 60), VADLIB_SLURM_PORT (first of 4 consecutive ports: slurmctld,
# slurmd, slurmdbd, mariadb; default 6817), VADLIB_SLURM_LINK_ETC=1|0 (default 1: link
# /etc/slurm/slurm.conf to our config when that file is absent, so clients work without SLURM_CONF).
set -euo pipefail

DIR=${VADLIB_SLURM_DIR:-/var/lib/vadlib-slurm}
TIMEOUT=${VADLIB_SLURM_TIMEOUT:-60}
PORT=${VADLIB_SLURM_PORT:-6817}
LINK_ETC=${VADLIB_SLURM_LINK_ETC:-1}
CLUSTER=vadlib
PARTITION=debug
CONF=$DIR/etc/slurm.conf
EXIT_UNAVAILABLE=3

# the daemons and clients need /usr/sbin on PATH (slurmd, slurmctld, munged, mariadbd)
export PATH=$PATH:/usr/sbin:/sbin
export SLURM_CONF=$CONF

log() { echo "slurm: $*" >&2; }

accounting() {
    # slurmdbd needs its own package, the mysql plugin and a mariadb server
    local want=${VADLIB_SLURM_ACCOUNTING:-}
    if [ -z "$want" ]; then
        if command -v slurmdbd >/dev/null && command -v mariadbd >/dev/null; then want=slurmdbd; else want=none; fi
    fi
    echo "$want"
}

# ---------------------------------------------------------------------------------------- install
cmd_install() {
    local pkgs=(slurm-wlm munge)
    [ "${VADLIB_SLURM_ACCOUNTING:-slurmdbd}" = none ] || pkgs+=(slurmdbd mariadb-server)
    if [ "$(id -u)" -ne 0 ]; then echo "slurm: skipped: not root, cannot install ${pkgs[*]}"; return 0; fi
    if ! command -v apt-get >/dev/null; then echo "slurm: skipped: no apt-get to install ${pkgs[*]}"; return 0; fi
    export DEBIAN_FRONTEND=noninteractive
    # Postinst scripts would start the services through invoke-rc.d; without systemd that fails or is
    # denied by a container's policy-rc.d, harmlessly: `start` runs the daemons itself.
    local out
    if ! out=$({ apt-get update -qq && apt-get install -y -qq --no-install-recommends "${pkgs[@]}"; } 2>&1); then
        echo "slurm: skipped: apt-get could not install ${pkgs[*]}: $(echo "$out" | grep -E '^(E|W):' | head -n1)"
        return 0
    fi
    echo "slurm: installed $(dpkg-query -W -f '${Package} ${Version}, ' "${pkgs[@]}" | sed 's/, $//')"
}

# ---------------------------------------------------------------------------------------- helpers
# alive PIDFILE COMM: the pid in PIDFILE runs a program named COMM (guards against reused pids)
# and is not a zombie (a container's init may never reap the daemons it inherits)
alive() {
    local pid stat
    [ -s "$1" ] || return 1
    pid=$(cat "$1" 2>/dev/null) || return 1
    [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$2" ] || return 1
    stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    [ "${stat%% *}" != Z ]
}

# stop_pid PIDFILE COMM: TERM, wait up to 20 s, then KILL
stop_pid() {
    local pidfile=$1 comm=$2 pid
    alive "$pidfile" "$comm" || { rm -f "$pidfile"; return 0; }
    pid=$(cat "$pidfile")
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 40); do
        alive "$pidfile" "$comm" || break
        sleep 0.5
    done
    if alive "$pidfile" "$comm"; then
        log "$comm ($pid) ignored SIGTERM, killing it"
        kill -KILL "$pid" 2>/dev/null || true
        sleep 0.5
    fi
    rm -f "$pidfile"
}

# wait_for SECONDS DESCRIPTION COMMAND...: poll COMMAND every 0.5 s
wait_for() {
    local secs=$1 what=$2 end
    shift 2
    end=$((SECONDS + secs))
    until "$@" >/dev/null 2>&1; do
        if [ "$SECONDS" -ge "$end" ]; then log "timed out after ${secs}s waiting for $what"; return 1; fi
        sleep 0.5
    done
}

cmd_logs() {
    local f
    for f in "$DIR"/log/*.log; do
        [ -e "$f" ] || continue
        echo "----- $f (last 40 lines)"
        tail -n 40 "$f"
    done
}

fail() {
    log "$*"
    cmd_logs >&2
    exit 1
}

node_name() { hostname -s; }

# ---------------------------------------------------------------------------------------- config
write_config() {
    local node cpus mem acct
    node=$(node_name)
    acct=$(accounting)
    # The node's CPUs and memory must not exceed what slurmd finds, or the node is drained: ask slurmd.
    cpus=$(slurmd -C | sed -n 's/.*CPUs=\([0-9]*\).*/\1/p' | head -n1)
    mem=$(slurmd -C | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' | head -n1)
    if [ -z "$cpus" ] || [ -z "$mem" ]; then fail "slurmd -C did not report CPUs and RealMemory"; fi

    mkdir -p "$DIR"/{etc,log,run,ctld,spool}
    chmod 755 "$DIR"
    local tmp=$CONF.tmp
    cat >"$tmp" <<EOF
# written by scripts/ci/slurm.sh: a one-node cluster on localhost for CI (no systemd, no cgroups)
ClusterName=$CLUSTER
SlurmctldHost=$node(127.0.0.1)
SlurmctldPort=$PORT
SlurmdPort=$((PORT + 1))
# everything runs as root, the jobs too (CI runs as root)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
# cred_expire also delays a requeued job's restart (default 120 s): short, for tests of requeueing
AuthInfo=socket=$DIR/munge/munge.socket,cred_expire=10
CredType=cred/munge
StateSaveLocation=$DIR/ctld
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/run/slurmctld.pid
SlurmdPidFile=$DIR/run/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
# no cgroup (v1 or v2 delegation may be missing in containers): track processes by parentage
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=30
MpiDefault=none
SwitchType=switch/none
LaunchType=launch/slurm
# CR_CPU and a node given only by its CPU count: each CPU (core or hyperthread) is allocated on
# its own, so two 1-CPU jobs run at once on a 2-CPU machine; memory is not a consumed resource.
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
# look at pending jobs every 2 s (default 60 s; 30 s for backfill): a requeued job waits its
# cred_expire below, then should start at once
SchedulerParameters=sched_interval=2,bf_interval=2
# submitit requeues preempted and timed-out jobs with scontrol requeue
JobRequeue=1
# jobs keep the CPU priority (nice value) of the process that submitted them
PropagatePrioProcess=1
ReturnToService=2
KillWait=5
MinJobAge=300
SlurmctldTimeout=30
SlurmdTimeout=60
InactiveLimit=0
Waittime=0
# no mail is sent; without this slurmctld logs that /usr/bin/mail is missing
MailProg=/bin/true
EOF
    if [ "$acct" = slurmdbd ]; then
        cat >>"$tmp" <<EOF
# sacct reads the jobs from slurmdbd (mariadb behind it)
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStoragePort=$((PORT + 2))
# clients authenticate to slurmdbd with the munge socket named here, not with AuthInfo
AccountingStoragePass=$DIR/munge/munge.socket
JobCompType=jobcomp/none
EOF
    else
        cat >>"$tmp" <<EOF
# no slurmdbd: sacct cannot answer; finished jobs are logged to a text file only
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$DIR/log/jobcomp.txt
EOF
    fi
    cat >>"$tmp" <<EOF
NodeName=$node NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=$PARTITION Nodes=$node Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
EOF
    mv "$tmp" "$CONF"
    chmod 644 "$CONF"

    if [ "$acct" = slurmdbd ]; then
        # slurmdbd looks for slurmdbd.conf next to $SLURM_CONF; it must be 600 and owned by SlurmUser
        tmp=$DIR/etc/slurmdbd.conf.tmp
        cat >"$tmp" <<EOF
# written by scripts/ci/slurm.sh
DbdHost=localhost
DbdAddr=127.0.0.1
DbdPort=$((PORT + 2))
SlurmUser=root
AuthType=auth/munge
AuthInfo=socket=$DIR/munge/munge.socket
PidFile=$DIR/run/slurmdbd.pid
LogFile=$DIR/log/slurmdbd.log
DebugLevel=info
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$((PORT + 3))
StorageUser=slurm
StoragePass=slurm
StorageLoc=slurm_acct_db
EOF
        chmod 600 "$tmp"
        mv "$tmp" "$DIR/etc/slurmdbd.conf"
    fi

    # Clients (sbatch, squeue, sacct, also the ones submitit runs inside jobs) read /etc/slurm/slurm.conf
    # unless SLURM_CONF says otherwise: point it at ours when nothing else claims it.
    if [ "$LINK_ETC" = 1 ] && [ -d /etc/slurm ]; then
        if [ ! -e /etc/slurm/slurm.conf ] || [ "$(readlink /etc/slurm/slurm.conf)" = "$CONF" ]; then
            ln -sfn "$CONF" /etc/slurm/slurm.conf
        else
            log "/etc/slurm/slurm.conf exists and is not ours: clients need SLURM_CONF=$CONF (see 'slurm.sh env')"
        fi
    fi
}

# ---------------------------------------------------------------------------------------- daemons
start_munge() {
    local m=$DIR/munge
    alive "$m/munged.pid" munged && return 0
    # a key and socket of our own: no clash with a system munged, and no need for /run/munge
    # munged refuses a socket directory writable by others; root (the slurm daemons) must traverse it
    mkdir -p "$m"
    chown munge:munge "$m"
    chmod 711 "$m"
    # munged runs as munge and opens its log itself
    touch "$DIR/log/munged.log"
    chown munge:munge "$DIR/log/munged.log"
    [ -s "$m/munge.key" ] || runuser -u munge -- mungekey --create --keyfile="$m/munge.key" >/dev/null
    runuser -u munge -- munged --socket="$m/munge.socket" --key-file="$m/munge.key" \
        --pid-file="$m/munged.pid" --log-file="$DIR/log/munged.log" --seed-file="$m/munged.seed" \
        || fail "munged did not start"
    wait_for 10 munged munge_ok || fail "munged does not answer"
}

munge_ok() { munge -n --socket="$DIR/munge/munge.socket" | unmunge --socket="$DIR/munge/munge.socket"; }

mysql_cli() { mariadb --no-defaults --socket="$DIR/mysql/run/mysqld.sock" -u root "$@"; }

start_mariadb() {
    local d=$DIR/mysql
    if ! alive "$d/run/mysqld.pid" mariadbd; then
        mkdir -p "$d/data" "$d/run"
        touch "$DIR/log/mariadb.log"
        chown -R mysql:mysql "$d" "$DIR/log/mariadb.log"
        if [ ! -d "$d/data/mysql" ]; then
            mariadb-install-db --no-defaults --user=mysql --datadir="$d/data" --skip-test-db \
                --auth-root-authentication-method=socket >"$DIR/log/mariadb-install.log" 2>&1 \
                || fail "mariadb-install-db failed (see $DIR/log/mariadb-install.log)"
        fi
        # A private server on 127.0.0.1 only, ignoring /etc/mysql (whose socket is under /run/mysqld).
        # Some of slurm's recommended innodb settings (slurmdbd still logs that the buffer pool is
        # smaller than it recommends: harmless, 128M is plenty here). No native AIO: io_uring and
        # libaio may be refused by a container's seccomp profile, and this database is tiny.
        setsid mariadbd --no-defaults --user=mysql --datadir="$d/data" --socket="$d/run/mysqld.sock" \
            --pid-file="$d/run/mysqld.pid" --port=$((PORT + 3)) --bind-address=127.0.0.1 \
            --log-error="$DIR/log/mariadb.log" --innodb-log-file-size=64M \
            --innodb-lock-wait-timeout=900 --innodb-use-native-aio=0 --skip-name-resolve \
            </dev/null >>"$DIR/log/mariadb.log" 2>&1 &
        wait_for 60 mariadb mysql_cli -e 'SELECT 1' || fail "mariadb did not start"
    fi
    mysql_cli --batch <<'EOF' || fail "could not create the slurm database"
CREATE DATABASE IF NOT EXISTS slurm_acct_db;
CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY 'slurm';
CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY 'slurm';
GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';
GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';
EOF
}

start_slurmdbd() {
    if ! alive "$DIR/run/slurmdbd.pid" slurmdbd; then
        slurmdbd || fail "slurmdbd did not start"
    fi
    # the first start creates the tables, a few seconds
    wait_for 60 slurmdbd sacctmgr -n list cluster || fail "slurmdbd does not answer"
    if ! sacctmgr -n -P list cluster format=cluster | grep -qx "$CLUSTER"; then
        sacctmgr -i add cluster "$CLUSTER" >/dev/null || fail "sacctmgr could not register cluster $CLUSTER"
    fi
}

node_ready() {
    local state
    state=$(sinfo -h -N -n "$(node_name)" -o '%T' 2>/dev/null | head -n1)
    case "$state" in
    # idle, or running jobs when start is called on a live cluster
    idle | mixed | allocated | completing) return 0 ;;
    # drained or down by an earlier run (e.g. a job whose processes would not die): put it back
    drain* | down*) scontrol update nodename="$(node_name)" state=resume >/dev/null 2>&1 || true ;;
    esac
    return 1
}

cmd_start() {
    local t0=$SECONDS acct
    if [ "$(id -u)" -ne 0 ]; then log "not available: start needs root"; exit $EXIT_UNAVAILABLE; fi
    local b
    for b in slurmctld slurmd munged sbatch; do
        command -v "$b" >/dev/null || { log "not available: $b is not installed (run 'slurm.sh install')"; exit $EXIT_UNAVAILABLE; }
    done
    acct=$(accounting)
    if [ "$acct" = slurmdbd ]; then
        for b in slurmdbd mariadbd mariadb-install-db; do
            command -v "$b" >/dev/null || fail "VADLIB_SLURM_ACCOUNTING=slurmdbd but $b is not installed"
        done
    fi
    write_config
    start_munge
    if [ "$acct" = slurmdbd ]; then
        start_mariadb
        start_slurmdbd
    fi
    if ! alive "$DIR/run/slurmctld.pid" slurmctld; then
        # -i: a state dir left by a crashed run must not keep the controller down
        slurmctld -i || fail "slurmctld did not start"
    fi
    wait_for 30 slurmctld scontrol ping || fail "slurmctld does not answer"
    if ! alive "$DIR/run/slurmd.pid" slurmd; then
        slurmd -N "$(node_name)" || fail "slurmd did not start"
    fi
    if ! wait_for "$TIMEOUT" "node $(node_name) to be idle" node_ready; then
        sinfo -N -l >&2 || true
        fail "the node did not become idle"
    fi
    log "up in $((SECONDS - t0))s (accounting: $acct, SLURM_CONF=$CONF)"
    sinfo
}

# ---------------------------------------------------------------------------------------- stop
cmd_stop() {
    if [ "$(id -u)" -ne 0 ]; then log "stop needs root"; return 0; fi
    if [ -f "$CONF" ] && command -v scontrol >/dev/null && alive "$DIR/run/slurmctld.pid" slurmctld; then
        # cancel the jobs first, so that their processes do not outlive slurmd
        local jobs
        jobs=$(squeue -h -o %A 2>/dev/null || true)
        if [ -n "$jobs" ]; then
            # shellcheck disable=SC2086
            scancel $jobs 2>/dev/null || true
            wait_for 30 "jobs to end" no_jobs || true
        fi
        scontrol shutdown >/dev/null 2>&1 || true
    fi
    stop_pid "$DIR/run/slurmd.pid" slurmd
    stop_pid "$DIR/run/slurmctld.pid" slurmctld
    stop_pid "$DIR/run/slurmdbd.pid" slurmdbd
    stop_pid "$DIR/mysql/run/mysqld.pid" mariadbd
    stop_pid "$DIR/munge/munged.pid" munged
    # Job steps that outlived slurmd: ours are the slurmstepd processes that inherited slurmd's
    # SLURM_CONF (exported above), so that another cluster's are left alone.
    local pid
    for pid in $(pgrep -x slurmstepd 2>/dev/null || true); do
        if tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | grep -qxF "SLURM_CONF=$CONF"; then
            log "killing leftover slurmstepd $pid and its children"
            pkill -KILL -P "$pid" 2>/dev/null || true
            kill -KILL "$pid" 2>/dev/null || true
        fi
    done
    log "stopped"
}

no_jobs() { [ -z "$(squeue -h -o %A 2>/dev/null)" ]; }

cmd_status() {
    if ! command -v sinfo >/dev/null || [ ! -f "$CONF" ]; then log "not installed or never started"; return 1; fi
    sinfo && squeue
}

cmd_env() {
    echo "export SLURM_CONF=$CONF"
}

case "${1:-}" in
install) cmd_install ;;
start) cmd_start ;;
stop) cmd_stop ;;
status) cmd_status ;;
env) cmd_env ;;
logs) cmd_logs ;;
*)
    echo "usage: $0 install|start|stop|status|env|logs" >&2
    exit 2
    ;;
esac
