#!/usr/bin/env bash
# deploy/try-install.sh — run deploy/install.sh FOR REAL on this machine (as root) where systemd is
# not PID 1 (a container, a disposable VM), then check what it installed, run it a second time
# (it must change nothing), stop everything it started and say how long each part took.
#
#   sudo bash deploy/try-install.sh            on top of what an earlier try left
#   sudo bash deploy/try-install.sh --fresh    first removes what install.sh made (user, /opt, /srv,
#                                              /etc/retire-prep, the units, the database and role)
#
# It CHANGES THE MACHINE (user retireprep, /opt/retire-prep, /srv/retire-prep, /etc/retire-prep,
# /etc/systemd/system/retire-prep-airflow*, a PostgreSQL role and database "airflow"): run it only on
# a machine made for it. Not part of `make test` or CI. `systemctl` is deploy/dev/systemctl-shim
# (what systemd would do for these units: user, environment file, working directory, pid files);
# everything else install.sh does is real (apt-get, useradd, rsync, pip, PostgreSQL, airflow).
set -uo pipefail
[ "$(id -u)" = 0 ] || { echo "try-install.sh: run as root" >&2; exit 2; }
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/.." && pwd)
SHIM="$HERE/dev/systemctl-shim"
export PATH="$SHIM:$PATH"
export SHIM_STOP_GRACE=${SHIM_STOP_GRACE:-30}
SVC=retireprep ETC=/etc/retire-prep PREFIX=/opt/retire-prep DATA=/srv/retire-prep
LOG=${TRY_INSTALL_LOG:-/tmp/try-install}
mkdir -p "$LOG"
FAILED=0 TIMES=()
T0=$(date +%s)
step_t=$T0
lap() { local now; now=$(date +%s); TIMES+=("$(printf '%-44s %5d s' "$1" $((now - step_t)))"); step_t=$now; }
ok() { echo "  ok    $*"; }
bad() { echo "  FAIL  $*"; FAILED=1; }
as_service() { runuser -u "$SVC" -- bash -c "set -a; . $ETC/retire-prep.env; set +a; $*"; }

pg_state() { pg_lsclusters -h 2>/dev/null | awk '$1 == 15 && $2 == "main" {print $4}'; }
pg_was_running=0
[ "$(pg_state)" = online ] && pg_was_running=1

if [ "${1:-}" = --fresh ]; then
  echo "== --fresh: removing what install.sh made"
  systemctl stop retire-prep-airflow.target 2>/dev/null
  if [ "$(pg_state)" != online ]; then pg_ctlcluster 15 main start; fi
  runuser -u postgres -- psql -qc "DROP DATABASE IF EXISTS airflow" -c "DROP ROLE IF EXISTS $SVC"
  [ $pg_was_running = 0 ] && pg_ctlcluster 15 main stop
  /usr/bin/systemctl disable retire-prep-airflow.target >/dev/null 2>&1
  rm -rf "$PREFIX" "$DATA" "$ETC" /etc/systemd/system/retire-prep-airflow*
  id -u "$SVC" >/dev/null 2>&1 && userdel "$SVC"
  lap "--fresh: removing the earlier install"
fi

# what install.sh made, as content + owner + mode (not times: a rerun may touch a file unchanged,
# that is no change); PostgreSQL roles and databases; the user; the virtualenv's packages
snapshot() {
  {
    getent passwd "$SVC"; getent group "$SVC"
    find "$PREFIX" "$ETC" "$DATA" /etc/systemd/system -path "$DATA/airflow/logs" -prune -o \
      -path "$PREFIX/.venv" -prune -o -name __pycache__ -prune -o \
      \( -path '/etc/systemd/system/*' -a ! -name '*retire-prep*' -a ! -name 'multi-user.target.wants' \) -prune -o \
      -printf '%p %U:%G %m %y %l\n' | sort
    find "$PREFIX" "$ETC" "$DATA/airflow" -maxdepth 1 -type f -print0 2>/dev/null | sort -z | xargs -0 sha256sum
    find "$PREFIX" -path "$PREFIX/.venv" -prune -o -name __pycache__ -prune -o -type f -print0 | sort -z | xargs -0 sha256sum
    find "$PREFIX/.venv" -name __pycache__ -prune -o -printf '%p %m %s\n' | sort | sha256sum | sed 's/-$/virtualenv listing/'
    "$PREFIX/.venv/bin/pip" freeze --all 2>/dev/null
    runuser -u postgres -- psql -tAc "SELECT rolname, rolsuper, rolcreatedb FROM pg_roles WHERE rolname !~ '^pg_' ORDER BY 1"
    runuser -u postgres -- psql -tAc "SELECT datname, pg_get_userbyid(datdba) FROM pg_database ORDER BY 1"
    as_service "$PREFIX/.venv/bin/airflow pools list -o plain" 2>/dev/null
  } 2>&1
}

echo "== systemd-analyze verify (the unit files as shipped)"
if systemd-analyze verify "$SRC"/deploy/systemd/* >"$LOG/verify-src.txt" 2>&1; then ok "no finding"
else
  # before install.sh the ExecStart= programs do not exist yet: that finding alone is expected
  if grep -v 'is not executable: No such file or directory' "$LOG/verify-src.txt" | grep -q .; then
    bad "systemd-analyze verify: $(cat "$LOG/verify-src.txt")"
  else ok "only 'not executable' (the virtualenv is made by install.sh)"; fi
fi
lap "systemd-analyze verify (shipped)"

echo "== install.sh, first run (log: $LOG/install-1.txt)"
if bash "$SRC/deploy/install.sh" >"$LOG/install-1.txt" 2>&1; then ok "exit 0"
else bad "install.sh exited $? (tail: $(tail -5 "$LOG/install-1.txt"))"; fi
lap "install.sh, first run"

echo "== systemd-analyze verify (the installed units, their programs present)"
if systemd-analyze verify /etc/systemd/system/retire-prep-airflow* >"$LOG/verify-installed.txt" 2>&1; then ok "no finding"
else bad "systemd-analyze verify: $(cat "$LOG/verify-installed.txt")"; fi
lap "systemd-analyze verify (installed)"

echo "== the services"
t0=$SECONDS
until curl -fsS -o /dev/null http://127.0.0.1:8080/api/v2/monitor/health 2>/dev/null || [ $((SECONDS - t0)) -ge 300 ]; do sleep 3; done
curl -fsS http://127.0.0.1:8080/api/v2/monitor/health >"$LOG/health.json" 2>&1 && ok "API server answers on 127.0.0.1:8080 (health after $((SECONDS - t0))s)" || bad "API server does not answer on 127.0.0.1:8080"
for u in api-server scheduler dag-processor triggerer; do
  if systemctl is-active "retire-prep-airflow-$u.service" >/dev/null; then ok "$u running (pid $(cat /run/retire-prep-shim/retire-prep-airflow-$u.service.pid))"
  else bad "$u not running (log /run/retire-prep-shim/retire-prep-airflow-$u.service.log)"; fi
done
# every process of the service user, and what each listens on
pids=$(pgrep -u "$SVC" | paste -sd'|')
ss -Hltnp >"$LOG/ss.txt"
listen=$(grep -E "pid=($pids)," "$LOG/ss.txt" | awk '{print $4}' | sort -u | paste -sd' ')
if [ "$listen" = "127.0.0.1:8080" ]; then ok "the service user listens on 127.0.0.1:8080 only"
else bad "the service user listens on: ${listen:-nothing} (ss: $LOG/ss.txt)"; fi
grep -q '0.0.0.0:8080\|\[::\]:8080\|\*:8080' "$LOG/ss.txt" && bad "8080 open on every interface"
lap "services up, health, listening sockets"

echo "== the DAGs (parsed by the DAG processor into PostgreSQL)"
# one DAG per file of dags/ (the DAG id is the file's name)
want=$(cd "$PREFIX/dags" && ls -- *.py | sed 's/\.py$//' | grep -v '^_' | sort | paste -sd' ')
# (Airflow prints its warnings, e.g. graphviz missing, on stdout too: the JSON is the line opening with [)
jsonids() { grep '^\[' | python3 -c 'import json, sys; print(" ".join(sorted(d["dag_id"] for d in json.load(sys.stdin))))'; }
# (deadlines on the wall clock: one `airflow dags list` takes 10 s on a loaded machine)
t0=$SECONDS have=
while [ $((SECONDS - t0)) -lt 300 ]; do
  have=$(as_service "$PREFIX/.venv/bin/airflow dags list -o json" 2>"$LOG/dags.err" | jsonids 2>/dev/null)
  [ "$have" = "$want" ] && break
  sleep 5
done
[ "$have" = "$want" ] && ok "every DAG of dags/ listed after $((SECONDS - t0))s: $have" || bad "DAGs listed: '$have', want '$want' ($LOG/dags.err)"
errs=$(as_service "$PREFIX/.venv/bin/airflow dags list-import-errors -o json" 2>"$LOG/import-errors.err" | grep '^\[')
[ "$errs" = "[]" ] && ok "no import errors" || bad "import errors: $errs"
# the scheduler, triggerer and DAG processor heartbeat into the database: the API server's health
t0=$SECONDS
until curl -fsS http://127.0.0.1:8080/api/v2/monitor/health 2>/dev/null >"$LOG/health.json" \
  && [ "$(grep -o '"status":"healthy"' "$LOG/health.json" | wc -l)" = 4 ] || [ $((SECONDS - t0)) -ge 180 ]; do sleep 3; done
[ "$(grep -o '"status":"healthy"' "$LOG/health.json" | wc -l)" = 4 ] \
  && ok "health: metadatabase, scheduler, triggerer, dag_processor healthy (after $((SECONDS - t0))s more)" \
  || bad "health: $(cat "$LOG/health.json")"
# the code the services import is the installed tree, not a copy without sql/ and templates/
root=$(as_service "cd / && $PREFIX/.venv/bin/python -c 'import pipelines; print(pipelines.SQL_DIR)'" 2>&1)
[ "$root" = "$PREFIX/sql" ] && ok "pipelines.SQL_DIR = $root" || bad "pipelines.SQL_DIR = $root (want $PREFIX/sql)"
lap "DAGs listed, import errors"

echo "== the person key, the environment file, airflow.cfg"
[ "$(stat -c '%a %U' "$ETC/person_key")" = "400 $SVC" ] && ok "person_key 0400 $SVC" || bad "person_key is $(stat -c '%a %U:%G' "$ETC/person_key")"
as_service "cat $ETC/person_key >/dev/null" 2>/dev/null && ok "the service user reads the key" || bad "the service user cannot read the key"
runuser -u nobody -- cat "$ETC/person_key" >/dev/null 2>&1 && bad "another user reads the key" || ok "another user (nobody) cannot read the key"
[ "$(stat -c '%a %U:%G' "$ETC/retire-prep.env")" = "640 root:$SVC" ] && ok "retire-prep.env 0640 root:$SVC" || bad "retire-prep.env is $(stat -c '%a %U:%G' "$ETC/retire-prep.env")"
key=$(cat "$ETC/person_key")
jwt=$(sed -n 's/^jwt_secret = //p' "$DATA/airflow/airflow.cfg")
secret_lines=$(grep -vE '^\s*(#|$)' "$ETC/retire-prep.env" | grep -iE '(secret|password|passwd|fernet|token|_key)=' | grep -v '_KEY_FILE=' || true)
if [ -z "$secret_lines" ] && ! grep -qF "$key" "$ETC/retire-prep.env" && ! grep -qF "$jwt" "$ETC/retire-prep.env" \
   && ! grep -E '^AIRFLOW__DATABASE__SQL_ALCHEMY_CONN' "$ETC/retire-prep.env" | grep -q '://[^@/]*:[^@/]*@'; then
  ok "retire-prep.env holds no secret (no key, password, JWT secret or the person key's value)"
else bad "retire-prep.env holds a secret: $secret_lines"; fi
[ ${#jwt} = 96 ] && ok "airflow.cfg jwt_secret is 48 random bytes" || bad "jwt_secret is ${#jwt} characters"
[ "$(stat -c '%a %U' "$DATA/airflow/airflow.cfg")" = "600 $SVC" ] && ok "airflow.cfg 0600 $SVC" || bad "airflow.cfg is $(stat -c '%a %U' "$DATA/airflow/airflow.cfg")"
grep -q '^person_key_secret' "$ETC/settings.toml" && bad "settings.toml still carries the demo key" || ok "settings.toml: the demo key commented out"
lap "key, environment file, airflow.cfg"

echo "== the log clean-up (the timer's service, run once by hand)"
systemctl start retire-prep-airflow-logs.service && ok "retire-prep-airflow-logs.service ran" || bad "retire-prep-airflow-logs.service failed: /run/retire-prep-shim/retire-prep-airflow-logs.service.log"
lap "log clean-up service"

echo "== install.sh, second run: it must change nothing (log: $LOG/install-2.txt)"
snapshot >"$LOG/state-1.txt"
jwt1=$jwt
if bash "$SRC/deploy/install.sh" >"$LOG/install-2.txt" 2>&1; then ok "exit 0"
else bad "install.sh (second run) exited $?"; fi
snapshot >"$LOG/state-2.txt"
if diff "$LOG/state-1.txt" "$LOG/state-2.txt" >"$LOG/state.diff"; then ok "nothing changed (users, files, modes, owners, contents, packages, roles, databases, pools)"
else bad "the second run changed: $(head -20 "$LOG/state.diff")"; fi
grep -q 'new person key' "$LOG/install-2.txt" && bad "the second run made a new person key"
[ "$(sed -n 's/^jwt_secret = //p' "$DATA/airflow/airflow.cfg")" = "$jwt1" ] && ok "jwt_secret kept" || bad "jwt_secret replaced"
for u in api-server scheduler dag-processor triggerer; do
  systemctl is-active "retire-prep-airflow-$u.service" >/dev/null || bad "$u not running after the second run"
done
lap "install.sh, second run + comparison"

echo "== stopping everything this started"
systemctl stop retire-prep-airflow.target
[ $pg_was_running = 0 ] && systemctl stop postgresql
t=0; while [ $pg_was_running = 0 ] && [ "$(pg_state)" != down ] && [ $t -lt 30 ]; do sleep 1; t=$((t + 1)); done
# (zombies have ended: PID 1 reaps them when it gets to it)
left=$(ps -u "$SVC" -o pid=,stat= | awk '$2 !~ /^Z/ {print $1}')
[ -z "$left" ] && ok "no process of $SVC left" || bad "processes of $SVC left: $(ps -o pid,cmd -p "$(echo $left | tr ' ' ,)")"
if [ $pg_was_running = 0 ]; then
  [ "$(pg_state)" = down ] && ok "PostgreSQL 15/main stopped (it was not running before)" || bad "PostgreSQL 15/main is $(pg_state)"
fi
lap "stop"

echo "== how long"
printf '  %s\n' "${TIMES[@]}"
printf '  %-44s %5d s\n' "total" $(($(date +%s) - T0))
[ $FAILED = 0 ] && echo "try-install.sh: every check passed" || echo "try-install.sh: SOME CHECKS FAILED (logs in $LOG)"
exit $FAILED
