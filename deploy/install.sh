#!/usr/bin/env bash
# deploy/install.sh — what the information division runs once, as root, on its Debian server
# (docs/operations.md §6 walks through it; running it again changes nothing it already did).
#
#   code and virtualenv   /opt/retire-prep           (this checkout is copied there)
#   data                  /srv/retire-prep/{warehouse,out,inbox/push,inbox/feedback,airflow}
#   configuration         /etc/retire-prep/{retire-prep.env,settings.toml,person_key}
#   services              retire-prep-airflow.target: API server, scheduler, DAG processor,
#                         triggerer (+ a daily clean-up of old task logs)
#   metadata database     Debian's PostgreSQL, database "airflow" owned by the service user,
#                         peer authentication over the unix socket (no password)
set -euo pipefail
[ "$(id -u)" = 0 ] || { echo "install.sh: run as root" >&2; exit 2; }
SRC=$(cd "$(dirname "$0")/.." && pwd)
PREFIX=/opt/retire-prep
DATA=/srv/retire-prep
ETC=/etc/retire-prep
SVC=retireprep

# --no-upgrade: a package already there stays as it is (a rerun changes nothing; patching is the
# division's regular update, not this script's side effect)
apt-get install -y --no-install-recommends --no-upgrade postgresql python3.11 python3.11-venv make rsync curl
# Debian's interpreter by its path: root's PATH may find another one (pyenv under /root, which the
# service user cannot even reach: "bad interpreter: Permission denied")
PY=/usr/bin/python3.11

# the service user: owns the data, runs every service, reads the person key
id -u "$SVC" >/dev/null 2>&1 || useradd --system --home-dir "$DATA" --shell /usr/sbin/nologin "$SVC"
install -d -o "$SVC" -g "$SVC" -m 0750 "$DATA" "$DATA/warehouse" "$DATA/out" "$DATA/airflow" \
  "$DATA/inbox" "$DATA/inbox/push" "$DATA/inbox/push/applications" "$DATA/inbox/feedback"

# code and its virtualenv (root-owned: the services cannot change their own code). What git ignores
# (.venv, out/, build/, *.egg-info, caches, bench/work) is neither copied nor deleted there.
# (.venv and the egg-info also by name: on the first copy $PREFIX has no .gitignore yet to protect them)
rsync -a --delete --exclude /.git --exclude /.venv --exclude '/*.egg-info' --filter=':- .gitignore' "$SRC/" "$PREFIX/"
# a virtualenv on another interpreter than Debian's is made anew
if [ "$(readlink -f "$PREFIX/.venv/bin/python" 2>/dev/null)" != "$(readlink -f "$PY")" ]; then
  rm -rf "$PREFIX/.venv"
  "$PY" -m venv "$PREFIX/.venv"
fi
"$PREFIX/.venv/bin/pip" install -q -r "$PREFIX/requirements.lock"
# editable: pipelines runs from $PREFIX/pipelines, so its sql/, templates/, data/ and expectations/
# are $PREFIX's (a copy in site-packages would look for them beside site-packages); done once
if [ "$(cd / && "$PREFIX/.venv/bin/python" -c 'import pipelines; print(pipelines.SQL_DIR)' 2>/dev/null)" != "$PREFIX/sql" ]; then
  "$PREFIX/.venv/bin/pip" install -q --no-deps -e "$PREFIX"
fi

# configuration: one environment file, the settings, the person key (service user only)
install -d -o root -g "$SVC" -m 0750 "$ETC"
if [ ! -f "$ETC/retire-prep.env" ]; then
  sed "s/^AIRFLOW__CORE__PARALLELISM=.*/AIRFLOW__CORE__PARALLELISM=$(nproc)/;
       s/^AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG=.*/AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG=$(nproc)/" \
    "$SRC/deploy/retire-prep.env" > "$ETC/retire-prep.env"
  chown root:"$SVC" "$ETC/retire-prep.env"; chmod 0640 "$ETC/retire-prep.env"
fi
[ -f "$ETC/settings.toml" ] || install -o root -g "$SVC" -m 0640 "$SRC/data/settings.toml" "$ETC/settings.toml"
# the shipped settings carry the demo key: production takes the key file, never that one
sed -i 's/^\(person_key_secret *=.*\)$/# \1  (production: RETIRE_PREP_PERSON_KEY_FILE)/' "$ETC/settings.toml"
if [ ! -f "$ETC/person_key" ]; then
  (umask 077; head -c 32 /dev/urandom | base64 > "$ETC/person_key")
  echo "install.sh: a new person key is in $ETC/person_key: back it up with the warehouse (docs/operations.md §7)"
fi
chown "$SVC:$SVC" "$ETC/person_key"; chmod 0400 "$ETC/person_key"

# the metadata database
systemctl enable --now postgresql
runuser -u postgres -- psql -tAc "SELECT 1 FROM pg_roles WHERE rolname = '$SVC'" | grep -q 1 \
  || runuser -u postgres -- createuser "$SVC"
runuser -u postgres -- psql -tAc "SELECT 1 FROM pg_database WHERE datname = 'airflow'" | grep -q 1 \
  || runuser -u postgres -- createdb -O "$SVC" -E UTF8 airflow

# Airflow's own database and the warehouse pool, as the service user with the services' environment
as_service() { runuser -u "$SVC" -- bash -c "set -a; . $ETC/retire-prep.env; set +a; $*"; }
as_service "$PREFIX/.venv/bin/airflow db migrate"
as_service "$PREFIX/.venv/bin/airflow pools set retire_prep_warehouse 1 'retire-prep: DuckDB has one writer'"
# airflow.cfg holds the generated secrets (JWT, API secret key, Fernet key): service user only.
# Airflow generates a short JWT secret (it warns: below 64 bytes for its HMAC): replace it once with
# 48 random bytes in hex; every service reads this one file, so they all agree.
CFG="$DATA/airflow/airflow.cfg"
if ! grep -q '^jwt_secret = [0-9a-f]\{96\}$' "$CFG"; then
  sed -i "s|^jwt_secret = .*|jwt_secret = $(head -c 48 /dev/urandom | od -An -tx1 | tr -d ' \n')|" "$CFG"
fi
chown "$SVC:$SVC" "$CFG"; chmod 0600 "$CFG"

# services
install -m 0644 "$SRC"/deploy/systemd/retire-prep-airflow* /etc/systemd/system/
systemctl daemon-reload
systemctl enable --now retire-prep-airflow.target
echo "install.sh: done. UI on http://127.0.0.1:8080 (this machine only); put the reverse proxy in front"
echo "            (deploy/nginx-retire-prep.conf) and a real login (docs/operations.md §6)."
