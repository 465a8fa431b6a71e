#!/usr/bin/env bash
# Runs Tandem's five services as local background processes against the local stack.
#
# Usage: deploy/local/services.sh up|down|status|seed
#   up      start every service that is not running (logs in <run>/logs/<svc>.log), wait for
#           each /readyz, then seed the demo site and write <run>/local.env
#   down    stop them (SIGTERM, then SIGKILL after the grace period)
#   status  one line per service
#   seed    (re)seed the demo site: site record + knowledge base from docs/
#
# Reads the servers' addresses from <run>/stack.env (written by deploy/local/stack.sh up).
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/../.." && pwd)
RUN_DIR=${TANDEM_RUN_DIR:-$REPO_ROOT/.run}
PY=${TANDEM_PYTHON:-$REPO_ROOT/.venv/bin/python}
READY_TIMEOUT=${TANDEM_SERVICES_TIMEOUT:-180}
HOST=127.0.0.1

SERVICES=(conversation answering escalation analytics gateway)
declare -A PORTS=([gateway]=${TANDEM_GATEWAY_PORT:-8000} [conversation]=${TANDEM_CONVERSATION_PORT:-8001}
  [answering]=${TANDEM_ANSWERING_PORT:-8002} [escalation]=${TANDEM_ESCALATION_PORT:-8003}
  [analytics]=${TANDEM_ANALYTICS_PORT:-8004})

log() { printf '[services] %s\n' "$*" >&2; }
die() { printf '[services] ERROR: %s\n' "$*" >&2; exit 1; }

load_stack_env() {
  [[ -f $RUN_DIR/stack.env ]] || die "no $RUN_DIR/stack.env: run deploy/local/stack.sh up first"
  set -a
  # shellcheck disable=SC1091
  source "$RUN_DIR/stack.env"
  set +a
}

pid_of() {
  local f=$RUN_DIR/pids/$1.pid
  [[ -f $f ]] || return 1
  local pid
  pid=$(<"$f")
  kill -0 "$pid" 2>/dev/null || return 1
  echo "$pid"
}

service_env() {
  # Each service reads its own prefixed variables (TANDEM_<SVC>_...).
  local svc=$1 up=${1^^}
  echo "TANDEM_${up}_KAFKA_BOOTSTRAP=$TANDEM_KAFKA_BOOTSTRAP"
  echo "TANDEM_${up}_POSTGRES_DSN=$TANDEM_POSTGRES_DSN"
  echo "TANDEM_${up}_REDIS_URL=$TANDEM_REDIS_URL"
  echo "TANDEM_${up}_HTTP_HOST=$HOST"
  echo "TANDEM_${up}_HTTP_PORT=${PORTS[$svc]}"
  case $svc in
    answering)
      echo "TANDEM_ANSWERING_WEAVIATE_URL=$TANDEM_WEAVIATE_URL"
      echo "TANDEM_ANSWERING_WEAVIATE_GRPC_PORT=$TANDEM_WEAVIATE_GRPC_PORT"
      echo "HF_HUB_OFFLINE=1"
      echo "TRANSFORMERS_OFFLINE=1"
      ;;
    gateway)
      echo "TANDEM_GATEWAY_CONVERSATION_URL=http://$HOST:${PORTS[conversation]}"
      echo "TANDEM_GATEWAY_ANALYTICS_URL=http://$HOST:${PORTS[analytics]}"
      echo "TANDEM_GATEWAY_ANSWERING_URL=http://$HOST:${PORTS[answering]}"
      echo "TANDEM_GATEWAY_ESCALATION_URL=http://$HOST:${PORTS[escalation]}"
      echo "TANDEM_GATEWAY_DEV_MODE=true"
      echo "TANDEM_GATEWAY_DEMO_DOCS_DIR=$REPO_ROOT/docs"
      # Rate limits of the local stack: the test suites send far more per minute, from a
      # few addresses, than one visitor or agent would, so the budgets are larger than the
      # production defaults. A value set in the caller's environment wins.
      echo "TANDEM_GATEWAY_RATE_LIMIT_IP_STARTS_PER_MINUTE=${TANDEM_GATEWAY_RATE_LIMIT_IP_STARTS_PER_MINUTE:-200}"
      echo "TANDEM_GATEWAY_RATE_LIMIT_IP_REQUESTS_PER_MINUTE=${TANDEM_GATEWAY_RATE_LIMIT_IP_REQUESTS_PER_MINUTE:-6000}"
      echo "TANDEM_GATEWAY_RATE_LIMIT_SITE_STARTS_PER_MINUTE=${TANDEM_GATEWAY_RATE_LIMIT_SITE_STARTS_PER_MINUTE:-3000}"
      echo "TANDEM_GATEWAY_RATE_LIMIT_SITE_REQUESTS_PER_MINUTE=${TANDEM_GATEWAY_RATE_LIMIT_SITE_REQUESTS_PER_MINUTE:-60000}"
      echo "TANDEM_GATEWAY_RATE_LIMIT_AGENT_REQUESTS_PER_MINUTE=${TANDEM_GATEWAY_RATE_LIMIT_AGENT_REQUESTS_PER_MINUTE:-6000}"
      ;;
  esac
}

start_one() {
  local svc=$1
  if pid=$(pid_of "$svc"); then
    log "$svc already running (pid $pid)"
    return
  fi
  mkdir -p "$RUN_DIR/logs" "$RUN_DIR/pids"
  local -a envs
  mapfile -t envs < <(service_env "$svc")
  log "starting $svc on $HOST:${PORTS[$svc]}"
  # setsid: the service outlives this script and gets its own process group to signal.
  env "${envs[@]}" setsid "$PY" -m "tandem_$svc" serve >>"$RUN_DIR/logs/$svc.log" 2>&1 </dev/null &
  echo $! >"$RUN_DIR/pids/$svc.pid"
}

wait_ready() {
  local svc=$1 url="http://$HOST:${PORTS[$1]}/readyz" deadline=$((SECONDS + READY_TIMEOUT))
  until curl -fsS -o /dev/null --max-time 3 "$url"; do
    if ! pid_of "$svc" >/dev/null; then
      tail -n 40 "$RUN_DIR/logs/$svc.log" >&2 || true
      die "$svc exited during start-up (log: $RUN_DIR/logs/$svc.log)"
    fi
    if ((SECONDS > deadline)); then
      tail -n 40 "$RUN_DIR/logs/$svc.log" >&2 || true
      curl -sS --max-time 3 "$url" >&2 || true
      die "$svc not ready after ${READY_TIMEOUT}s (log: $RUN_DIR/logs/$svc.log)"
    fi
    sleep 0.5
  done
  log "$svc ready"
}

stop_one() {
  local svc=$1 pid
  if ! pid=$(pid_of "$svc"); then
    rm -f "$RUN_DIR/pids/$svc.pid"
    return
  fi
  log "stopping $svc (pid $pid)"
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
  done
  kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
  rm -f "$RUN_DIR/pids/$svc.pid"
}

seed() {
  load_stack_env
  local conv="http://$HOST:${PORTS[conversation]}" gw="http://$HOST:${PORTS[gateway]}"
  log "seeding the demo site"
  local body
  body=$(printf '{"name":"Tandem demo","allowed_origins":["%s","http://localhost:%s"],"greeting":"Hi! I am Tandem'"'"'s assistant. Ask me about running or using Tandem.","show_confidence":true}' "$gw" "${PORTS[gateway]}")
  local site
  site=$(curl -fsS -X PUT "$conv/internal/sites/demo" -H 'content-type: application/json' -d "$body") \
    || die "could not create the demo site"
  local key
  key=$("$PY" -c 'import json,sys; print(json.load(sys.stdin)["public_key"])' <<<"$site")
  log "ingesting docs/ into the demo knowledge base"
  env $(service_env answering) "$PY" -m tandem_answering ingest --site demo \
    --base-url "$gw/demo/docs" "$REPO_ROOT/docs" >&2 \
    || die "demo knowledge-base ingestion failed"
  cat >"$RUN_DIR/local.env" <<ENV
GATEWAY_URL=$gw
DEMO_PAGE_URL=$gw/demo?site_key=$key
CONSOLE_URL=$gw/console
DASHBOARD_URL=$gw/dashboard
DEMO_SITE_ID=demo
DEMO_SITE_KEY=$key
CONVERSATION_URL=$conv
ANSWERING_URL=http://$HOST:${PORTS[answering]}
ESCALATION_URL=http://$HOST:${PORTS[escalation]}
ANALYTICS_URL=http://$HOST:${PORTS[analytics]}
API_DOCS_URL=$gw/docs
ENV
}

cmd=${1:-}
case $cmd in
  up)
    load_stack_env
    for svc in "${SERVICES[@]}"; do start_one "$svc"; done
    for svc in "${SERVICES[@]}"; do wait_ready "$svc"; done
    if [[ ${TANDEM_SKIP_SEED:-0} != 1 ]]; then
      seed
    fi
    ;;
  down) for ((i = ${#SERVICES[@]} - 1; i >= 0; i--)); do stop_one "${SERVICES[$i]}"; done ;;
  status)
    for svc in "${SERVICES[@]}"; do
      if pid=$(pid_of "$svc"); then
        printf '%-13s running  %s:%s  pid %s\n' "$svc" "$HOST" "${PORTS[$svc]}" "$pid"
      else
        printf '%-13s stopped\n' "$svc"
      fi
    done
    ;;
  seed) seed ;;
  *) die "usage: $0 up|down|status|seed" ;;
esac
