#!/usr/bin/env bash
# Airflow on one machine, loopback only (docs/operations.md §1):
#   deploy/airflow-local.sh start    API server, scheduler, DAG processor, triggerer in the background
#   deploy/airflow-local.sh stop     stops every process they started (task processes included)
#   deploy/airflow-local.sh status   what runs, and every socket it listens on
#   deploy/airflow-local.sh env      the environment, for `eval "$(deploy/airflow-local.sh env)"`
#
# Each service starts in a session of its own (setsid); its session id is kept in
# $AIRFLOW_HOME/run/<service>.sid. `stop` signals every process of those sessions (the
# LocalExecutor's workers and the task processes, which make process groups of their own,
# stay in the session), waits, kills what is left, and checks that nothing remains.
# Nothing listens beyond 127.0.0.1: the API server is bound there, and the log servers
# (8793, 8794: all interfaces, no setting to bind them) are not started — on one machine the
# API server reads the task logs from $AIRFLOW_HOME/logs itself.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${RETIRE_PREP_BIN:-$ROOT/.venv/bin}
export AIRFLOW_HOME=${AIRFLOW_HOME:-$ROOT/build/airflow}
AIRFLOW_PORT=${AIRFLOW_PORT:-8080}
RUN=$AIRFLOW_HOME/run
SERVICES=(api-server scheduler dag-processor triggerer)

airflow_env() {
  export PATH="$BIN:$PATH"
  export AIRFLOW__CORE__DAGS_FOLDER=${AIRFLOW__CORE__DAGS_FOLDER:-$ROOT/dags}
  export AIRFLOW__CORE__LOAD_EXAMPLES=False
  export AIRFLOW__CORE__EXECUTOR=LocalExecutor
  # LocalExecutor starts `parallelism` worker processes: one per core, not Airflow's 32
  export AIRFLOW__CORE__PARALLELISM=${AIRFLOW__CORE__PARALLELISM:-$(nproc)}
  export AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG=${AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG:-$AIRFLOW__CORE__PARALLELISM}
  export AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES=${AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES:-1}
  export AIRFLOW__API__HOST=127.0.0.1 AIRFLOW__API__PORT=$AIRFLOW_PORT AIRFLOW__API__WORKERS=1
  export AIRFLOW__API__BASE_URL=http://127.0.0.1:$AIRFLOW_PORT
  export AIRFLOW__CORE__EXECUTION_API_SERVER_URL=http://127.0.0.1:$AIRFLOW_PORT/execution/
  export AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK=False
  # a task's first call to the execution API may take seconds on a busy small machine; Airflow's
  # 5 s would fail the task (and its retry waits 5 minutes)
  export AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT=${AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT:-60}
}

sessions() {  # the session ids recorded by start (one whose leader is now another program is not ours)
  local f sid cmd
  for f in "$RUN"/*.sid; do
    [ -e "$f" ] || continue
    sid=$(tr -dc 0-9 < "$f")
    [ -n "$sid" ] || continue
    cmd=$(ps -ww -o stat=,args= -p "$sid" 2>/dev/null || true)
    case $cmd in
      ""|Z*|*airflow*) echo "$sid" ;;  # the leader gone or a zombie (its session may still hold tasks), or ours
      *) echo "airflow-local: session $sid of $f is now '$cmd': not ours, left alone" >&2 ;;
    esac
  done
  return 0
}

pids_of_sessions() {  # every live process in the recorded sessions (a zombie has ended: not listed)
  local sids
  sids=$(sessions | paste -sd, -)
  [ -n "$sids" ] || return 0
  ps -o pid=,stat= -s "$sids" 2>/dev/null | awk '$2 !~ /^Z/ {print $1}' || true
}

api_ready() {
  curl -fsS -o /dev/null --max-time 10 "http://127.0.0.1:$AIRFLOW_PORT/api/v2/monitor/health" 2>/dev/null
}

launch() {  # launch SERVICE: in a session of its own; its session id into $RUN/SERVICE.sid
  local s=$1 args
  case $s in
    api-server) args=(api-server --host 127.0.0.1 --port "$AIRFLOW_PORT" --workers 1) ;;
    scheduler|triggerer) args=("$s" --skip-serve-logs) ;;
    *) args=("$s") ;;
  esac
  setsid "$BIN/airflow" "${args[@]}" >>"$AIRFLOW_HOME/logs/services/$s.log" 2>&1 < /dev/null &
  echo "$!" > "$RUN/$s.sid"   # setsid from a non-leader execs in place: pid = session id
}

start() {
  airflow_env
  mkdir -p "$RUN" "$AIRFLOW_HOME/logs/services"
  if [ -n "$(pids_of_sessions)" ]; then
    echo "airflow-local: already running (stop first: make airflow-stop)" >&2; exit 2
  fi
  rm -f "$RUN"/*.sid
  # the API server first: tasks report to it (the execution API) from their first second
  launch api-server
  local i
  for i in $(seq 1 180); do
    api_ready && break
    if ! kill -0 "$(cat "$RUN/api-server.sid")" 2>/dev/null; then
      echo "airflow-local: the API server exited at start; see $AIRFLOW_HOME/logs/services/api-server.log" >&2
      tail -n 20 "$AIRFLOW_HOME/logs/services/api-server.log" >&2 || true
      stop; exit 1
    fi
    [ "$i" = 180 ] && { echo "airflow-local: the API server did not answer within 180 s" >&2; stop; exit 1; }
    sleep 1
  done
  # warm the execution API (the tasks' first calls) before the scheduler hands out work
  curl -sS -o /dev/null --max-time 120 "http://127.0.0.1:$AIRFLOW_PORT/execution/health" 2>/dev/null || true
  local s
  for s in "${SERVICES[@]:1}"; do launch "$s"; done
  sleep 3
  for s in "${SERVICES[@]}"; do
    if ! kill -0 "$(cat "$RUN/$s.sid")" 2>/dev/null; then
      echo "airflow-local: $s exited at start; see $AIRFLOW_HOME/logs/services/$s.log" >&2
      tail -n 20 "$AIRFLOW_HOME/logs/services/$s.log" >&2 || true
      stop; exit 1
    fi
  done
  echo "airflow-local: up on http://127.0.0.1:$AIRFLOW_PORT (parallelism $AIRFLOW__CORE__PARALLELISM;" \
       "logs in $AIRFLOW_HOME/logs/services/)"
}

stop() {
  local pids i
  pids=$(pids_of_sessions)
  if [ -z "$pids" ]; then rm -f "$RUN"/*.sid; echo "airflow-local: nothing running"; return 0; fi
  # the session leaders first (they stop their children in order), then whatever is left
  for s in $(sessions); do kill -TERM "$s" 2>/dev/null || true; done
  local grace=${AIRFLOW_STOP_GRACE:-30}
  for i in $(seq 1 "$grace"); do
    [ -z "$(pids_of_sessions)" ] && break
    [ "$i" = $((grace / 2)) ] && { pids=$(pids_of_sessions); [ -n "$pids" ] && kill -TERM $pids 2>/dev/null || true; }
    sleep 1
  done
  pids=$(pids_of_sessions)
  if [ -n "$pids" ]; then
    echo "airflow-local: killing what did not stop in $grace s: $(echo $pids)" >&2
    kill -KILL $pids 2>/dev/null || true
    sleep 1
  fi
  pids=$(pids_of_sessions)
  if [ -n "$pids" ]; then
    echo "airflow-local: still running: $(echo $pids)" >&2; return 1
  fi
  rm -f "$RUN"/*.sid
  echo "airflow-local: stopped, no process left"
}

listening() {  # every listening TCP socket of the recorded sessions: "address:port pid"
  local pids p
  pids=" $(pids_of_sessions | tr '\n' ' ') "
  ss -ltnpH 2>/dev/null | while read -r _ _ _ local _ users; do
    for p in $(grep -o 'pid=[0-9]*' <<<"$users" | cut -d= -f2); do
      case "$pids" in *" $p "*) echo "$local $p" ;; esac
    done
  done | sort -u
}

status() {
  local pids
  pids=$(pids_of_sessions)
  if [ -z "$pids" ]; then echo "airflow-local: not running"; return 0; fi
  echo "airflow-local: $(echo "$pids" | wc -l) processes in sessions $(sessions | paste -sd' ' -)"
  echo "listening:"; listening | sed 's/^/  /'
}

case ${1:-} in
  start) start ;;
  stop) stop ;;
  status) status ;;
  listening) listening ;;
  env) airflow_env
       env | grep -E '^(AIRFLOW_HOME|AIRFLOW__[A-Z_]*|PATH)=' | while IFS='=' read -r k v; do
         printf 'export %s=%q\n' "$k" "$v"; done ;;
  *) echo "usage: $0 start|stop|status|listening|env" >&2; exit 2 ;;
esac
