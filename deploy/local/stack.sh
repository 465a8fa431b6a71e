#!/usr/bin/env bash
# Local development stack for Tandem: PostgreSQL, Redis, Kafka (KRaft) and Weaviate,
# run as plain local processes (no container engine), all bound to 127.0.0.1.
#
# Usage: deploy/local/stack.sh install|up|down [--purge]|purge|status|env
#
#   install  Install/download what the servers need (idempotent; cached outside the repo):
#            Debian packages (postgresql, redis-server, ...) only when missing,
#            Kafka jars via Maven into $TANDEM_CACHE_DIR/kafka-<version>/libs,
#            weaviate-server via `go install` into $TANDEM_CACHE_DIR/bin.
#   up       install, then start whatever is not running, wait until every server is healthy,
#            create the PostgreSQL role/databases, write <run dir>/stack.env and print it.
#   down     Stop all servers, keep their data. `down --purge` (or `purge`) also deletes the run dir.
#   status   One line per server: running/stopped and its address. Exit 0 when all run, else 3.
#   env      Print the stack.env content (computed from the settings; servers need not be up).
#
# Settings (environment variables, defaults in brackets):
#   TANDEM_RUN_DIR [<repo>/.run]  data, logs and pid files (postgres/ redis/ kafka/ weaviate/ logs/ pids/)
#   TANDEM_CACHE_DIR [~/.cache/tandem]   downloads and builds shared by all checkouts
#   TANDEM_PG_PORT [55432]  TANDEM_REDIS_PORT [56379]
#   TANDEM_KAFKA_PORT [59092]  TANDEM_KAFKA_CONTROLLER_PORT [59093]
#   TANDEM_WEAVIATE_PORT [58080]  TANDEM_WEAVIATE_GRPC_PORT [58051]
#   TANDEM_WEAVIATE_GOSSIP_PORT [58946]  TANDEM_WEAVIATE_DATA_PORT [58947]
#   TANDEM_WEAVIATE_RAFT_PORT [58300]  TANDEM_WEAVIATE_RAFT_RPC_PORT [58301]
#   TANDEM_WEAVIATE_GOGC [300]  Go's GC target for weaviate-server (see weaviate_start)
#   TANDEM_STACK_TIMEOUT [120]  seconds each server may take to become healthy
#
# Progress messages go to stderr; `up` and `env` print the KEY=value lines on stdout.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/../.." && pwd)

RUN_DIR=${TANDEM_RUN_DIR:-$REPO_ROOT/.run}
CACHE_DIR=${TANDEM_CACHE_DIR:-$HOME/.cache/tandem}

PG_PORT=${TANDEM_PG_PORT:-55432}
REDIS_PORT=${TANDEM_REDIS_PORT:-56379}
KAFKA_PORT=${TANDEM_KAFKA_PORT:-59092}
KAFKA_CONTROLLER_PORT=${TANDEM_KAFKA_CONTROLLER_PORT:-59093}
WEAVIATE_PORT=${TANDEM_WEAVIATE_PORT:-58080}
WEAVIATE_GRPC_PORT=${TANDEM_WEAVIATE_GRPC_PORT:-58051}
WEAVIATE_GOSSIP_PORT=${TANDEM_WEAVIATE_GOSSIP_PORT:-58946}
WEAVIATE_DATA_PORT=${TANDEM_WEAVIATE_DATA_PORT:-58947}
WEAVIATE_RAFT_PORT=${TANDEM_WEAVIATE_RAFT_PORT:-58300}
WEAVIATE_RAFT_RPC_PORT=${TANDEM_WEAVIATE_RAFT_RPC_PORT:-58301}
STACK_TIMEOUT=${TANDEM_STACK_TIMEOUT:-120}

HOST=127.0.0.1
PG_USER=tandem
PG_PASSWORD=tandem
PG_DATABASES=(tandem tandem_test)

KAFKA_POM=$SCRIPT_DIR/kafka/pom.xml
KAFKA_VERSION=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$KAFKA_POM")
KAFKA_LIBS=$CACHE_DIR/kafka-$KAFKA_VERSION/libs
KAFKA_LIBS_MARKER=$KAFKA_LIBS/.tandem-complete
KAFKA_HEAP_OPTS=(-Xmx512m -Xms256m)

WEAVIATE_VERSION=v1.35.2
WEAVIATE_MODULE=github.com/weaviate/weaviate/cmd/weaviate-server
WEAVIATE_BIN=$CACHE_DIR/bin/weaviate-server
WEAVIATE_MARKER=$WEAVIATE_BIN.version

# ---------------------------------------------------------------------------- helpers

log() { printf '[stack] %s\n' "$*" >&2; }
die() { printf '[stack] ERROR: %s\n' "$*" >&2; exit 1; }

# Print the last lines of a log file to stderr (used when something fails).
show_log_tail() {
    local file=$1 lines=${2:-40}
    if [[ -s $file ]]; then
        printf '[stack] ---- last %s lines of %s ----\n' "$lines" "$file" >&2
        tail -n "$lines" "$file" >&2 || true
        printf '[stack] ---- end of %s ----\n' "$file" >&2
    else
        printf '[stack] (log %s is empty or missing)\n' "$file" >&2
    fi
}

fail_with_log() {
    local message=$1 file=$2
    show_log_tail "$file"
    die "$message (full log: $file)"
}

is_uint() { [[ $1 =~ ^[0-9]+$ ]]; }

validate_settings() {
    local name value
    for name in PG_PORT REDIS_PORT KAFKA_PORT KAFKA_CONTROLLER_PORT WEAVIATE_PORT WEAVIATE_GRPC_PORT \
        WEAVIATE_GOSSIP_PORT WEAVIATE_DATA_PORT WEAVIATE_RAFT_PORT WEAVIATE_RAFT_RPC_PORT STACK_TIMEOUT; do
        value=${!name}
        is_uint "$value" || die "TANDEM_$name must be a number, got '$value'"
    done
    [[ -n $KAFKA_VERSION ]] || die "cannot read <kafka.version> from $KAFKA_POM"
    case $RUN_DIR in
        /*) ;;
        *) RUN_DIR=$PWD/$RUN_DIR ;;
    esac
    RUN_DIR=${RUN_DIR%/}
    [[ -n $RUN_DIR && $RUN_DIR != / ]] || die "TANDEM_RUN_DIR must not be /"
}

# True when something accepts TCP connections on 127.0.0.1:$1.
port_open() {
    (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null
}

# Fail if a port we are about to bind is taken by some other process.
require_port_free() {
    local port=$1 what=$2
    if port_open "$port"; then
        die "$what: port $HOST:$port is already in use by another process (not one started by this script). Stop it or choose another port with the TANDEM_*_PORT variables."
    fi
}

read_pid() {
    local file=$1 pid=
    if [[ -f $file ]]; then read -r pid <"$file" 2>/dev/null || true; fi
    if is_uint "${pid:-}"; then printf '%s' "$pid"; fi
}

# True when process $1 exists and is not a zombie (an exited child that nobody reaped yet).
pid_alive() {
    local pid=$1 stat
    [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 1
    stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    [[ ${stat:0:1} != Z ]]
}

# True when $1 is a live process whose command line contains $2.
pid_matches() {
    local pid=$1 pattern=$2 cmdline
    pid_alive "$pid" || return 1
    cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
    [[ $cmdline == *"$pattern"* ]]
}

# Wait until a command succeeds; $1 = seconds, $2 = pid that must stay alive ("" = none), rest = command.
wait_until() {
    local timeout=$1 pid=$2
    shift 2
    local deadline=$((SECONDS + timeout))
    while ((SECONDS < deadline)); do
        if "$@"; then return 0; fi
        if [[ -n $pid ]] && ! pid_alive "$pid"; then return 2; fi
        sleep 0.5
    done
    "$@"
}

# Send SIGTERM to $1, wait up to $2 seconds, then SIGKILL.
stop_pid() {
    local pid=$1 timeout=$2 name=$3
    kill -TERM "$pid" 2>/dev/null || return 0
    local deadline=$((SECONDS + timeout))
    while pid_alive "$pid"; do
        if ((SECONDS >= deadline)); then
            log "$name (pid $pid) did not stop within ${timeout}s; sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
            sleep 0.5
            break
        fi
        sleep 0.2
    done
}

# Run a command in a new session, detached from this shell, stdout+stderr appended to a log file.
# The child writes its own pid (exec keeps it) so the pid file always names the real server process.
spawn() {
    local pidfile=$1 logfile=$2
    shift 2
    rm -f "$pidfile"
    # 7>&- 8>&-: the server must not inherit (and keep holding) this script's lock files.
    # shellcheck disable=SC2016 # $$, $0 and $@ belong to the inner bash
    setsid bash -c 'echo $$ >"$0"; exec "$@"' "$pidfile" "$@" </dev/null >>"$logfile" 2>&1 7>&- 8>&- &
    local _
    for _ in $(seq 1 50); do
        [[ -s $pidfile ]] && return 0
        sleep 0.1
    done
    die "could not start: $* (no pid file $pidfile)"
}

# mkdir for the layout of the run dir; the marker file lets `purge` know the dir is ours.
ensure_run_dir() {
    mkdir -p "$RUN_DIR"
    if [[ ! -e $RUN_DIR/.tandem-run ]]; then
        # Refuse a directory with foreign content (TANDEM_RUN_DIR=$HOME by mistake): `purge` deletes it.
        local entry
        for entry in "$RUN_DIR"/* "$RUN_DIR"/.[!.]*; do
            [[ -e $entry ]] || continue
            case ${entry##*/} in
                postgres | redis | kafka | weaviate | logs | pids | stack.env | local.env | .lock) ;;
                *) die "$RUN_DIR contains ${entry##*/}, which this script did not create; choose another TANDEM_RUN_DIR" ;;
            esac
        done
        printf 'Tandem local stack run directory (deploy/local/stack.sh)\n' >"$RUN_DIR/.tandem-run"
    fi
    mkdir -p "$RUN_DIR"/{postgres,redis,kafka,weaviate,logs,pids}
}

# Serialise concurrent invocations on the same run dir.
lock_run_dir() {
    exec 8>"$RUN_DIR/.lock"
    flock -w 600 8 || die "another stack.sh is busy with $RUN_DIR (lock $RUN_DIR/.lock)"
}

# ---------------------------------------------------------------------------- install

pg_bindir() {
    local dir best=
    for dir in /usr/lib/postgresql/*/bin; do
        [[ -x $dir/pg_ctl && -x $dir/initdb ]] || continue
        if [[ -z $best ]] || [[ $(printf '%s\n%s\n' "$best" "$dir" | sort -V | tail -n 1) == "$dir" ]]; then
            best=$dir
        fi
    done
    printf '%s' "$best"
}

as_root() {
    if ((EUID == 0)); then "$@"
    elif command -v sudo >/dev/null; then sudo "$@"
    else die "need root (or sudo) to run: $*"; fi
}

ensure_os_packages() {
    local missing=()
    [[ -n $(pg_bindir) ]] || missing+=(postgresql)
    if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
        missing+=(redis-server)
    fi
    command -v curl >/dev/null || missing+=(curl)
    command -v java >/dev/null || missing+=(default-jre-headless)
    command -v mvn >/dev/null || missing+=(maven)
    ((${#missing[@]} == 0)) && return 0

    command -v apt-get >/dev/null || die "missing ${missing[*]} and apt-get is not available; install them by hand"
    local logfile=$RUN_DIR/logs/install-apt.log
    log "installing Debian packages: ${missing[*]} (log: $logfile)"
    # Keep the Debian system services from being started: we run our own instances.
    local policy=/usr/sbin/policy-rc.d created_policy=0
    if [[ ! -e $policy ]]; then
        as_root sh -c "printf '#!/bin/sh\nexit 101\n' >$policy && chmod 755 $policy"
        created_policy=1
    fi
    local rc=0
    {
        as_root env DEBIAN_FRONTEND=noninteractive apt-get update &&
            as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
    } >"$logfile" 2>&1 || rc=$?
    if ((created_policy)); then as_root rm -f "$policy"; fi
    ((rc == 0)) || fail_with_log "apt-get install ${missing[*]} failed" "$logfile"
    [[ -n $(pg_bindir) ]] || die "postgresql installed but no /usr/lib/postgresql/*/bin/pg_ctl found"
}

pom_hash() {
    sha256sum "$KAFKA_POM" | cut -d' ' -f1
}

ensure_kafka_libs() {
    local want have=
    want=$(pom_hash)
    [[ -f $KAFKA_LIBS_MARKER ]] && have=$(<"$KAFKA_LIBS_MARKER")
    [[ $have == "$want" ]] && return 0

    command -v mvn >/dev/null || die "mvn (Maven) is required to download the Kafka jars"
    local logfile=$RUN_DIR/logs/install-kafka.log tmp=$KAFKA_LIBS.tmp
    log "downloading Kafka $KAFKA_VERSION jars into $KAFKA_LIBS (log: $logfile)"
    rm -rf "$tmp"
    mkdir -p "$(dirname "$KAFKA_LIBS")"
    if ! mvn -q -B -Dstyle.color=never -f "$KAFKA_POM" dependency:copy-dependencies \
        -DoutputDirectory="$tmp" -DincludeScope=runtime >"$logfile" 2>&1; then
        rm -rf "$tmp"
        fail_with_log "Maven could not resolve the Kafka jars (pom: $KAFKA_POM)" "$logfile"
    fi
    compgen -G "$tmp/kafka_2.13-$KAFKA_VERSION.jar" >/dev/null ||
        fail_with_log "Maven finished but kafka_2.13-$KAFKA_VERSION.jar is missing in $tmp" "$logfile"
    printf '%s\n' "$want" >"$tmp/.tandem-complete"
    rm -rf "$KAFKA_LIBS"
    mv "$tmp" "$KAFKA_LIBS"
    log "Kafka jars ready ($(find "$KAFKA_LIBS" -name '*.jar' | wc -l) jars)"
}

ensure_weaviate() {
    if [[ -x $WEAVIATE_BIN ]]; then
        if [[ -f $WEAVIATE_MARKER && $(<"$WEAVIATE_MARKER") == "$WEAVIATE_VERSION" ]]; then
            return 0
        fi
        # A binary without marker (e.g. copied in by hand): trust its embedded module version.
        if command -v go >/dev/null &&
            go version -m "$WEAVIATE_BIN" 2>/dev/null | grep -Eq "^[[:space:]]+mod[[:space:]]+github.com/weaviate/weaviate[[:space:]]+$WEAVIATE_VERSION([[:space:]]|$)"; then
            printf '%s\n' "$WEAVIATE_VERSION" >"$WEAVIATE_MARKER"
            return 0
        fi
    fi

    command -v go >/dev/null ||
        die "Go is required to build weaviate-server $WEAVIATE_VERSION (Go >= 1.25, see https://go.dev/dl/); or put the binary at $WEAVIATE_BIN"
    local logfile=$RUN_DIR/logs/install-weaviate.log
    log "building weaviate-server $WEAVIATE_VERSION with 'go install' into $CACHE_DIR/bin"
    log "  (first build takes 10-20 minutes on a small machine; log: $logfile)"
    mkdir -p "$CACHE_DIR/bin"
    rm -f "$WEAVIATE_MARKER"
    if ! GOBIN=$CACHE_DIR/bin go install "$WEAVIATE_MODULE@$WEAVIATE_VERSION" >"$logfile" 2>&1; then
        fail_with_log "go install $WEAVIATE_MODULE@$WEAVIATE_VERSION failed" "$logfile"
    fi
    [[ -x $WEAVIATE_BIN ]] || fail_with_log "go install succeeded but $WEAVIATE_BIN is missing" "$logfile"
    printf '%s\n' "$WEAVIATE_VERSION" >"$WEAVIATE_MARKER"
    log "weaviate-server $WEAVIATE_VERSION ready"
}

cmd_install() {
    ensure_run_dir
    mkdir -p "$CACHE_DIR"
    # One installer at a time per cache dir (several checkouts may share it).
    exec 7>"$CACHE_DIR/.install.lock"
    flock -w 3600 7 || die "timed out waiting for another install (lock $CACHE_DIR/.install.lock)"
    ensure_os_packages
    ensure_kafka_libs
    ensure_weaviate
    exec 7>&-
}

# ---------------------------------------------------------------------------- postgres

PG_DIR() { printf '%s' "$RUN_DIR/postgres"; }
PG_DATA() { printf '%s' "$RUN_DIR/postgres/data"; }
PG_LOG() { printf '%s' "$RUN_DIR/logs/postgres.log"; }

# Run a PostgreSQL server command as the postgres OS user (initdb refuses to run as root).
as_pg() {
    if ((EUID == 0)); then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_postmaster_pid() {
    read_pid "$(PG_DATA)/postmaster.pid"
}

# Like `pg_ctl status`, but a zombie postmaster (killed, not yet reaped by init) counts as stopped.
pg_running() {
    local pid
    pid=$(pg_postmaster_pid)
    pid_matches "$pid" "$(PG_DATA)"
}

pg_prepare_dirs() {
    local dir
    dir=$(PG_DIR)
    local socket=$dir/.s.PGSQL.$PG_PORT
    ((${#socket} <= 107)) ||
        die "PostgreSQL socket path $socket is longer than 107 bytes; use a shorter TANDEM_RUN_DIR"
    if ((EUID == 0)); then
        id -u postgres >/dev/null 2>&1 || die "OS user 'postgres' does not exist (is the postgresql package installed?)"
        touch "$(PG_LOG)"
        chown postgres:postgres "$dir" "$(PG_LOG)"
        chmod 700 "$dir"
        if ! runuser -u postgres -- test -w "$dir" -a -x "$dir"; then
            die "the 'postgres' OS user cannot reach $dir: every parent directory needs o+x (check: namei -m $dir). Set TANDEM_RUN_DIR to a reachable place, e.g. /var/tmp/tandem-run"
        fi
    fi
}

pg_initdb() {
    local bindir=$1 data tmp
    data=$(PG_DATA)
    tmp=$(PG_DIR)/data.init
    log "postgres: initdb $data"
    as_pg rm -rf "$tmp"
    # Initialise into a temporary dir and rename at the end: an interrupted initdb leaves no half-made cluster.
    if ! as_pg "$bindir/initdb" -D "$tmp" --username=postgres --encoding=UTF8 --locale=C.UTF-8 \
        --auth-local=peer --auth-host=scram-sha-256 --no-instructions >>"$(PG_LOG)" 2>&1; then
        fail_with_log "postgres: initdb failed" "$(PG_LOG)"
    fi
    # Socket access is limited to the run dir (mode 700, owner postgres): trust it, so root and the
    # script can connect as the superuser over the socket. TCP (127.0.0.1) always needs a password.
    printf '%s\n' \
        '# Written by deploy/local/stack.sh' \
        'local   all  all                trust' \
        'host    all  all  127.0.0.1/32  scram-sha-256' \
        'host    all  all  ::1/128       scram-sha-256' | as_pg tee "$tmp/pg_hba.conf" >/dev/null
    printf '\n%s\n' "include_if_exists = 'tandem.conf'" | as_pg tee -a "$tmp/postgresql.conf" >/dev/null
    as_pg mv "$tmp" "$data"
}

pg_write_conf() {
    # Rewritten on every start so port changes apply.
    as_pg tee "$(PG_DATA)/tandem.conf" >/dev/null <<EOF
# Written by deploy/local/stack.sh on every start; edit the script, not this file.
listen_addresses = '$HOST'
port = $PG_PORT
unix_socket_directories = '$(PG_DIR)'
max_connections = 200
password_encryption = 'scram-sha-256'
log_line_prefix = '%m [%p] %q%u@%d '
log_timezone = 'UTC'
timezone = 'UTC'
EOF
}

pg_start() {
    local bindir
    bindir=$(pg_bindir)
    [[ -n $bindir ]] || die "PostgreSQL binaries not found under /usr/lib/postgresql/*/bin (run: $0 install)"
    pg_prepare_dirs
    if pg_running; then
        log "postgres: already running"
    else
        [[ -f $(PG_DATA)/PG_VERSION ]] || pg_initdb "$bindir"
        # After a crash the old postmaster may linger as a zombie for a moment; PostgreSQL would
        # take its pid for a running server and refuse to start, so give init time to reap it.
        local old _
        old=$(pg_postmaster_pid)
        if [[ -n $old ]]; then
            for _ in $(seq 1 40); do kill -0 "$old" 2>/dev/null || break; sleep 0.25; done
        fi
        require_port_free "$PG_PORT" postgres
        pg_write_conf
        log "postgres: starting on $HOST:$PG_PORT"
        if ! as_pg "$bindir/pg_ctl" -D "$(PG_DATA)" -l "$(PG_LOG)" -w -t "$STACK_TIMEOUT" start >/dev/null 2>&1 7>&- 8>&-; then
            fail_with_log "postgres did not start within ${STACK_TIMEOUT}s" "$(PG_LOG)"
        fi
    fi
    pg_postmaster_pid >"$RUN_DIR/pids/postgres.pid"
}

pg_psql_super() {
    as_pg "$(pg_bindir)/psql" -X -q -v ON_ERROR_STOP=1 -h "$(PG_DIR)" -p "$PG_PORT" -U postgres -d postgres "$@"
}

pg_tcp_ok() {
    PGPASSWORD=$PG_PASSWORD PGCONNECT_TIMEOUT=3 "$(pg_bindir)/psql" -X -q -At -w \
        -h "$HOST" -p "$PG_PORT" -U "$PG_USER" -d "${PG_DATABASES[0]}" -c 'select 1' >/dev/null 2>&1
}

pg_wait_and_provision() {
    local bindir
    bindir=$(pg_bindir)
    if ! wait_until "$STACK_TIMEOUT" "" "$bindir/pg_isready" -q -h "$HOST" -p "$PG_PORT"; then
        fail_with_log "postgres is not accepting connections on $HOST:$PG_PORT" "$(PG_LOG)"
    fi
    local dblist
    dblist=$(printf "'%s'," "${PG_DATABASES[@]}")
    if pg_tcp_ok && [[ $(pg_psql_super -At -c "select count(*) from pg_database where datname in (${dblist%,})" 2>/dev/null) == "${#PG_DATABASES[@]}" ]]; then
        return 0
    fi
    log "postgres: creating role '$PG_USER' and databases ${PG_DATABASES[*]}"
    local sql db
    sql="DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$PG_USER') THEN
    CREATE ROLE $PG_USER LOGIN CREATEDB PASSWORD '$PG_PASSWORD';
  ELSE
    ALTER ROLE $PG_USER LOGIN CREATEDB PASSWORD '$PG_PASSWORD';
  END IF;
END \$\$;"
    for db in "${PG_DATABASES[@]}"; do
        sql+="
SELECT 'CREATE DATABASE $db OWNER $PG_USER' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$db')
\\gexec"
    done
    if ! printf '%s\n' "$sql" | pg_psql_super >>"$(PG_LOG)" 2>&1; then
        fail_with_log "postgres: creating role/databases failed" "$(PG_LOG)"
    fi
    pg_tcp_ok || fail_with_log "postgres: cannot log in as $PG_USER over TCP ($HOST:$PG_PORT)" "$(PG_LOG)"
}

pg_stop() {
    local bindir
    bindir=$(pg_bindir)
    if pg_running; then
        log "postgres: stopping"
        as_pg "$bindir/pg_ctl" -D "$(PG_DATA)" -m fast -w -t 60 stop >/dev/null 2>&1 ||
            log "postgres: pg_ctl stop failed (see $(PG_LOG))"
    fi
    rm -f "$RUN_DIR/pids/postgres.pid"
}

# ---------------------------------------------------------------------------- redis

REDIS_PIDFILE() { printf '%s' "$RUN_DIR/pids/redis.pid"; }
REDIS_LOG() { printf '%s' "$RUN_DIR/logs/redis.log"; }

redis_pid() {
    local pid
    pid=$(read_pid "$(REDIS_PIDFILE)")
    if pid_matches "$pid" redis-server; then printf '%s' "$pid"; fi
}

redis_ping() {
    [[ $(redis-cli -h "$HOST" -p "$REDIS_PORT" ping 2>/dev/null) == PONG ]]
}

redis_start() {
    if [[ -n $(redis_pid) ]]; then
        log "redis: already running"
        return 0
    fi
    rm -f "$(REDIS_PIDFILE)"
    require_port_free "$REDIS_PORT" redis
    log "redis: starting on $HOST:$REDIS_PORT"
    local out logfile
    logfile=$(REDIS_LOG)
    # Errors before daemonizing (bad option, ...) go to stderr, not to the log file.
    if ! out=$(redis-server --bind "$HOST" --port "$REDIS_PORT" --dir "$RUN_DIR/redis" \
        --daemonize yes --pidfile "$(REDIS_PIDFILE)" --logfile "$logfile" \
        --appendonly yes --save '' 2>&1 7>&- 8>&-); then
        printf '%s\n' "$out" >>"$logfile"
        fail_with_log "redis-server failed to start" "$logfile"
    fi
}

redis_wait() {
    if ! wait_until "$STACK_TIMEOUT" "" redis_ping; then
        fail_with_log "redis did not answer PING on $HOST:$REDIS_PORT within ${STACK_TIMEOUT}s" "$(REDIS_LOG)"
    fi
}

redis_stop() {
    local pid
    pid=$(redis_pid)
    if [[ -n $pid ]]; then
        log "redis: stopping"
        redis-cli -h "$HOST" -p "$REDIS_PORT" shutdown >/dev/null 2>&1 || true
        stop_pid "$pid" 30 redis
    fi
    rm -f "$(REDIS_PIDFILE)"
}

# ---------------------------------------------------------------------------- kafka

KAFKA_PIDFILE() { printf '%s' "$RUN_DIR/pids/kafka.pid"; }
KAFKA_LOG() { printf '%s' "$RUN_DIR/logs/kafka.log"; }
KAFKA_PROPS() { printf '%s' "$RUN_DIR/kafka/server.properties"; }
KAFKA_DATA() { printf '%s' "$RUN_DIR/kafka/data"; }
# Written once the running broker (this pid) has served metadata, so a warm `up` needs no JVM.
KAFKA_READY() { printf '%s' "$RUN_DIR/pids/kafka.ready"; }

kafka_pid() {
    local pid
    pid=$(read_pid "$(KAFKA_PIDFILE)")
    if pid_matches "$pid" kafka.Kafka; then printf '%s' "$pid"; fi
}

kafka_tool() {
    java -Xmx256m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC \
        -Dlog4j2.configurationFile="$SCRIPT_DIR/kafka/tools-log4j2.properties" \
        -cp "$KAFKA_LIBS/*" "$@"
}

kafka_render_config() {
    local line out=
    while IFS= read -r line || [[ -n $line ]]; do
        line=${line//@KAFKA_PORT@/$KAFKA_PORT}
        line=${line//@KAFKA_CONTROLLER_PORT@/$KAFKA_CONTROLLER_PORT}
        line=${line//@KAFKA_DATA_DIR@/$(KAFKA_DATA)}
        out+=$line$'\n'
    done <"$SCRIPT_DIR/kafka/server.properties.tmpl"
    printf '%s' "$out" >"$(KAFKA_PROPS).tmp"
    mv "$(KAFKA_PROPS).tmp" "$(KAFKA_PROPS)"
}

kafka_format_if_needed() {
    local data idfile cluster_id
    data=$(KAFKA_DATA)
    idfile=$RUN_DIR/kafka/cluster-id
    [[ -f $data/meta.properties ]] && return 0
    if [[ -s $idfile ]]; then
        cluster_id=$(<"$idfile")
    else
        cluster_id=$(kafka_tool kafka.tools.StorageTool random-uuid 2>>"$(KAFKA_LOG)") ||
            fail_with_log "kafka: StorageTool random-uuid failed" "$(KAFKA_LOG)"
        printf '%s\n' "$cluster_id" >"$idfile"
    fi
    # No meta.properties means nothing usable was ever written: start from an empty dir.
    rm -rf "$data"
    mkdir -p "$data"
    log "kafka: formatting storage (cluster id $cluster_id, static quorum)"
    if ! kafka_tool kafka.tools.StorageTool format --cluster-id "$cluster_id" --config "$(KAFKA_PROPS)" \
        >>"$(KAFKA_LOG)" 2>&1; then
        fail_with_log "kafka: storage format failed" "$(KAFKA_LOG)"
    fi
}

kafka_start() {
    if [[ -n $(kafka_pid) ]]; then
        log "kafka: already running"
        return 0
    fi
    [[ -f $KAFKA_LIBS_MARKER ]] || die "Kafka jars missing in $KAFKA_LIBS (run: $0 install)"
    command -v java >/dev/null || die "java (17+) is required for Kafka"
    rm -f "$(KAFKA_PIDFILE)" "$(KAFKA_READY)"
    require_port_free "$KAFKA_PORT" kafka
    require_port_free "$KAFKA_CONTROLLER_PORT" "kafka controller"
    kafka_render_config
    kafka_format_if_needed
    log "kafka: starting on $HOST:$KAFKA_PORT (controller $HOST:$KAFKA_CONTROLLER_PORT)"
    printf '\n===== %s stack.sh: starting Kafka %s =====\n' "$(date -u +%FT%TZ)" "$KAFKA_VERSION" >>"$(KAFKA_LOG)"
    spawn "$(KAFKA_PIDFILE)" "$(KAFKA_LOG)" \
        java "${KAFKA_HEAP_OPTS[@]}" -server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
        -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
        -Dlog4j2.configurationFile="$SCRIPT_DIR/kafka/log4j2.properties" \
        -Dkafka.logs.dir="$RUN_DIR/logs" \
        -cp "$KAFKA_LIBS/*" kafka.Kafka "$(KAFKA_PROPS)"
}

# Ready = the broker answers a metadata request (topic listing) on the PLAINTEXT listener.
kafka_serves_metadata() {
    port_open "$KAFKA_PORT" || return 1
    timeout 30 java -Xmx256m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC \
        -Dlog4j2.configurationFile="$SCRIPT_DIR/kafka/tools-log4j2.properties" \
        -cp "$KAFKA_LIBS/*" org.apache.kafka.tools.TopicCommand \
        --bootstrap-server "$HOST:$KAFKA_PORT" --list >/dev/null 2>&1
}

kafka_wait() {
    local pid ready=
    pid=$(kafka_pid)
    [[ -n $pid ]] || fail_with_log "kafka exited right after starting" "$(KAFKA_LOG)"
    [[ -f $(KAFKA_READY) ]] && ready=$(<"$(KAFKA_READY)")
    if [[ $ready == "$pid" ]] && port_open "$KAFKA_PORT"; then
        return 0
    fi
    local rc=0 deadline=$((SECONDS + STACK_TIMEOUT))
    # Cheap wait for the listener first, then real metadata round trips (one JVM each), same deadline.
    wait_until "$STACK_TIMEOUT" "$pid" port_open "$KAFKA_PORT" || rc=$?
    if ((rc == 0)); then
        local left=$((deadline - SECONDS))
        ((left > 0)) || left=1
        wait_until "$left" "$pid" kafka_serves_metadata || rc=$?
    fi
    case $rc in
        0) printf '%s\n' "$pid" >"$(KAFKA_READY)" ;;
        2) fail_with_log "kafka exited during startup" "$(KAFKA_LOG)" ;;
        *) fail_with_log "kafka did not serve metadata on $HOST:$KAFKA_PORT within ${STACK_TIMEOUT}s" "$(KAFKA_LOG)" ;;
    esac
}

kafka_stop() {
    local pid
    pid=$(kafka_pid)
    if [[ -n $pid ]]; then
        log "kafka: stopping"
        stop_pid "$pid" 60 kafka
    fi
    rm -f "$(KAFKA_PIDFILE)" "$(KAFKA_READY)"
}

# ---------------------------------------------------------------------------- weaviate

WEAVIATE_PIDFILE() { printf '%s' "$RUN_DIR/pids/weaviate.pid"; }
WEAVIATE_LOG() { printf '%s' "$RUN_DIR/logs/weaviate.log"; }

weaviate_pid() {
    local pid
    pid=$(read_pid "$(WEAVIATE_PIDFILE)")
    if pid_matches "$pid" weaviate-server; then printf '%s' "$pid"; fi
}

weaviate_ready() {
    [[ $(curl -s -o /dev/null -m 3 -w '%{http_code}' "http://$HOST:$WEAVIATE_PORT/v1/.well-known/ready" 2>/dev/null) == 200 ]]
}

weaviate_start() {
    if [[ -n $(weaviate_pid) ]]; then
        log "weaviate: already running"
        return 0
    fi
    [[ -x $WEAVIATE_BIN ]] || die "weaviate-server missing at $WEAVIATE_BIN (run: $0 install)"
    rm -f "$(WEAVIATE_PIDFILE)"
    local port
    for port in "$WEAVIATE_PORT" "$WEAVIATE_GRPC_PORT" "$WEAVIATE_GOSSIP_PORT" "$WEAVIATE_DATA_PORT" \
        "$WEAVIATE_RAFT_PORT" "$WEAVIATE_RAFT_RPC_PORT"; do
        require_port_free "$port" weaviate
    done
    mkdir -p "$RUN_DIR/weaviate/data"
    log "weaviate: starting on $HOST:$WEAVIATE_PORT (gRPC $WEAVIATE_GRPC_PORT)"
    printf '\n===== %s stack.sh: starting weaviate-server %s =====\n' "$(date -u +%FT%TZ)" "$WEAVIATE_VERSION" >>"$(WEAVIATE_LOG)"
    # Variable names: weaviate usecases/config/environment.go (v1.35.2) and docs.weaviate.io env-vars.
    # CLUSTER_BIND_ADDR keeps gossip/data/raft on 127.0.0.1; GO_PROFILING_DISABLE avoids pprof on :6060.
    # QUERY_HYBRID_MAXIMUM_RESULTS=24: how deep each half of a hybrid query goes before the
    # two are fused. Weaviate's default, 100, reads up to 200 stored objects for the 8 the
    # answering service asks for; 24 costs Weaviate 40 % less CPU per search (docs/quality.md).
    # GOGC=300: a search allocates a lot of short-lived garbage (objects read from the LSM
    # store); at Go's default of 100 the collector's marking took 13 % of Weaviate's CPU,
    # at 300 a search costs about a fifth less. LIMIT_RESOURCES's GOMEMLIMIT caps the heap.
    # Weaviate hard-codes ":port" for its gRPC server (GRPC_PORT) and cluster data API
    # (CLUSTER_DATA_BIND_PORT): those two listen on all interfaces; there is no setting for it.
    spawn "$(WEAVIATE_PIDFILE)" "$(WEAVIATE_LOG)" \
        env GOGC="${TANDEM_WEAVIATE_GOGC:-300}" QUERY_HYBRID_MAXIMUM_RESULTS=24 \
        AUTHENTICATION_ANONYMOUS_ACCESS_ENABLED=true \
        PERSISTENCE_DATA_PATH="$RUN_DIR/weaviate/data" \
        DEFAULT_VECTORIZER_MODULE=none \
        ENABLE_MODULES= \
        CLUSTER_HOSTNAME=node1 \
        CLUSTER_BIND_ADDR="$HOST" \
        CLUSTER_ADVERTISE_ADDR="$HOST" \
        CLUSTER_GOSSIP_BIND_PORT="$WEAVIATE_GOSSIP_PORT" \
        CLUSTER_DATA_BIND_PORT="$WEAVIATE_DATA_PORT" \
        GRPC_PORT="$WEAVIATE_GRPC_PORT" \
        RAFT_PORT="$WEAVIATE_RAFT_PORT" \
        RAFT_INTERNAL_RPC_PORT="$WEAVIATE_RAFT_RPC_PORT" \
        RAFT_BOOTSTRAP_EXPECT=1 \
        DISABLE_TELEMETRY=true \
        GO_PROFILING_DISABLE=true \
        PROMETHEUS_MONITORING_ENABLED=false \
        LIMIT_RESOURCES=true \
        QUERY_DEFAULTS_LIMIT=25 \
        LOG_LEVEL=info \
        LOG_FORMAT=text \
        "$WEAVIATE_BIN" --host "$HOST" --port "$WEAVIATE_PORT" --scheme http
}

weaviate_wait() {
    local pid rc=0
    pid=$(weaviate_pid)
    [[ -n $pid ]] || fail_with_log "weaviate exited right after starting" "$(WEAVIATE_LOG)"
    wait_until "$STACK_TIMEOUT" "$pid" weaviate_ready || rc=$?
    case $rc in
        0) ;;
        2) fail_with_log "weaviate exited during startup" "$(WEAVIATE_LOG)" ;;
        *) fail_with_log "weaviate not ready (GET /v1/.well-known/ready on $HOST:$WEAVIATE_PORT) within ${STACK_TIMEOUT}s" "$(WEAVIATE_LOG)" ;;
    esac
}

weaviate_stop() {
    local pid
    pid=$(weaviate_pid)
    if [[ -n $pid ]]; then
        log "weaviate: stopping"
        stop_pid "$pid" 60 weaviate
    fi
    rm -f "$(WEAVIATE_PIDFILE)"
}

# ---------------------------------------------------------------------------- commands

stack_env() {
    cat <<EOF
TANDEM_POSTGRES_DSN=postgresql://$PG_USER:$PG_PASSWORD@$HOST:$PG_PORT/${PG_DATABASES[0]}
TANDEM_REDIS_URL=redis://$HOST:$REDIS_PORT/0
TANDEM_KAFKA_BOOTSTRAP=$HOST:$KAFKA_PORT
TANDEM_WEAVIATE_URL=http://$HOST:$WEAVIATE_PORT
TANDEM_WEAVIATE_GRPC_PORT=$WEAVIATE_GRPC_PORT
EOF
}

cmd_up() {
    local started=$SECONDS
    cmd_install
    lock_run_dir
    # Start everything first (Kafka and Weaviate take a while), then wait for each in turn.
    pg_start
    redis_start
    kafka_start
    weaviate_start
    pg_wait_and_provision
    redis_wait
    kafka_wait
    weaviate_wait
    stack_env >"$RUN_DIR/stack.env.tmp"
    mv "$RUN_DIR/stack.env.tmp" "$RUN_DIR/stack.env"
    log "stack is up in $((SECONDS - started))s; settings in $RUN_DIR/stack.env"
    cat "$RUN_DIR/stack.env"
}

cmd_down() {
    local purge=0
    case ${1:-} in
        "") ;;
        --purge) purge=1 ;;
        *) die "unknown option for down: $1 (did you mean --purge?)" ;;
    esac
    if [[ -d $RUN_DIR ]]; then
        lock_run_dir
        weaviate_stop
        kafka_stop
        redis_stop
        pg_stop
        log "stack is down"
    else
        log "nothing to stop ($RUN_DIR does not exist)"
    fi
    if ((purge)) && [[ -d $RUN_DIR ]]; then
        [[ -e $RUN_DIR/.tandem-run ]] || die "refusing to delete $RUN_DIR: it has no .tandem-run marker"
        rm -rf "$RUN_DIR"
        log "deleted $RUN_DIR"
    fi
}

status_line() {
    local name=$1 address=$2 pid=$3
    if [[ -n $pid ]]; then
        printf '%-9s running  %-22s pid %s\n' "$name" "$address" "$pid"
    else
        printf '%-9s stopped  %s\n' "$name" "$address"
        return 1
    fi
}

cmd_status() {
    local all=0 pg_pid=
    if [[ -d $RUN_DIR ]] && pg_running; then
        pg_pid=$(pg_postmaster_pid)
    fi
    status_line postgres "$HOST:$PG_PORT" "$pg_pid" || all=3
    status_line redis "$HOST:$REDIS_PORT" "$(redis_pid)" || all=3
    status_line kafka "$HOST:$KAFKA_PORT" "$(kafka_pid)" || all=3
    status_line weaviate "$HOST:$WEAVIATE_PORT" "$(weaviate_pid)" || all=3
    return "$all"
}

usage() {
    sed -n '2,/^set -euo/p' "$0" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//' >&2
}

main() {
    validate_settings
    local cmd=${1:-}
    [[ $# -gt 0 ]] && shift
    case $cmd in
        install) cmd_install ;;
        up) cmd_up ;;
        down) cmd_down "$@" ;;
        purge) cmd_down --purge ;;
        status) cmd_status ;;
        env) stack_env ;;
        -h | --help | help) usage ;;
        *) usage; exit 2 ;;
    esac
}

# Sourcing the file (for tests) defines the functions without running anything.
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
    main "$@"
fi
