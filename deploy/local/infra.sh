#!/usr/bin/env bash
# Kopa local servers: install (cached), start, stop and check the real servers the
# services use on a development or CI machine without Docker (see shared INFRA.md).
#
#   deploy/local/infra.sh install [SERVER...]   install what is missing (apt, Maven Central, go build)
#   deploy/local/infra.sh start   [SERVER...]   install if needed, start, wait until ready
#   deploy/local/infra.sh stop    [SERVER...]   stop cleanly (idempotent)
#   deploy/local/infra.sh restart [SERVER...]
#   deploy/local/infra.sh status  [SERVER...]   exit 0 when every expected server is ready, 3 otherwise
#   deploy/local/infra.sh reset   [SERVER...]   stop and wipe data and logs (keeps the install cache)
#   deploy/local/infra.sh env                   print `export KEY=VALUE` lines: eval "$(deploy/local/infra.sh env)"
#   deploy/local/infra.sh logs    [SERVER...]   last 50 log lines
#   deploy/local/infra.sh check                 use each server through its URL (deploy/local/smoke_check.py)
#
# SERVER is one of: redis rabbitmq elasticsearch postgresql ferretdb kannel smtp (default: all
# that the chosen FerretDB backend needs: postgresql is left out with KOPA_FERRETDB_BACKEND=sqlite).
#   kannel  Debian's Kannel (bearerbox + smsbox, config in deploy/local/kannel/) with its fake
#           SMSC: fakesmsc (kannel-extras) plays the operator and logs every message it is
#           handed to $KOPA_FAKESMSC_LOG; Kannel calls each message's dlr-url back
#   smtp    aiosmtpd (from the project's .venv) storing every message in the Maildir
#           $KOPA_SMTP_MAILDIR
#
# Environment (all optional):
#   KOPA_STATE_DIR         runtime state: run/ (pid files), log/<server>.log, data/   [/var/lib/kopa]
#   KOPA_INSTALL_DIR       install cache: downloads/, elasticsearch-<v>/, bin/       [/opt/kopa]
#   KOPA_FERRETDB_BACKEND  postgresql | sqlite (see bench/ferretdb_backends.py)     [postgresql]
#   KOPA_ES_VERSION        Elasticsearch 9.x integ-test-zip version on Maven Central   [9.5.2]
#   KOPA_ES_JAVA_HOME      JDK 21+ for Elasticsearch                   [Temurin 25 under /usr/lib/jvm]
#   KOPA_ES_EXTRA_JAVA_OPTS  JVM options for Elasticsearch besides the 512 MB heap  [-XX:TieredStopAtLevel=1]
#   KOPA_READY_TIMEOUT     seconds to wait for each server                             [120]
#   KOPA_PYTHON            Python with pymongo, elasticsearch, aio-pika, redis (check) and
#                          aiosmtpd (the smtp server)                     [<repo>/.venv/bin/python]
#
# The services see only MONGODB_URL, ELASTICSEARCH_URL, AMQP_URL, REDIS_URL, and for
# notifications KANNEL_SENDSMS_URL, KANNEL_USERNAME, KANNEL_PASSWORD and SMTP_URL; `start`
# writes them to deploy/local/servers.env (KEY=VALUE lines: `set -a; . deploy/local/servers.env;
# set +a`), with KOPA_FAKESMSC_LOG and KOPA_SMTP_MAILDIR, where tests read what was delivered.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
STATE=${KOPA_STATE_DIR:-/var/lib/kopa}
INSTALL=${KOPA_INSTALL_DIR:-/opt/kopa}
BACKEND=${KOPA_FERRETDB_BACKEND:-postgresql}
ES_VERSION=${KOPA_ES_VERSION:-9.5.2}
READY_TIMEOUT=${KOPA_READY_TIMEOUT:-120}
# C1-only JIT: about a third faster to start on 2 busy cores; slower peak speed does not
# matter for development and test data
ES_JAVA_OPTS="-Xms512m -Xmx512m ${KOPA_ES_EXTRA_JAVA_OPTS--XX:TieredStopAtLevel=1}"
ES_USER=kopa-es
FERRETDB_VERSION=v1.24.2 # keep in sync with deploy/local/ferretdb/go.mod

REDIS_PORT=6379 AMQP_PORT=5672 RABBIT_MGMT_PORT=15672 ES_PORT=9200 PG_PORT=5432 MONGO_PORT=27017
MONGODB_URL="mongodb://127.0.0.1:${MONGO_PORT}/"
ELASTICSEARCH_URL="http://127.0.0.1:${ES_PORT}"
AMQP_URL="amqp://guest:guest@127.0.0.1:${AMQP_PORT}/"
REDIS_URL="redis://127.0.0.1:${REDIS_PORT}/0"
# Kannel's ports are set in deploy/local/kannel/kannel.conf; these must match it
KANNEL_ADMIN_PORT=13000 KANNEL_SMSBOX_PORT=13001 KANNEL_SENDSMS_PORT=13013 FAKESMSC_PORT=10000
SMTP_PORT=2525
KANNEL_CONF_SRC="$SCRIPT_DIR/kannel/kannel.conf"
# the user Debian's kannel package creates; the boxes run as it, as the package's init script does
KANNEL_USER=kannel
kannel_conf_value() { sed -n "s/^$1 *= *\"\{0,1\}\([^\"]*\)\"\{0,1\} *\$/\1/p" "$KANNEL_CONF_SRC" | head -1; }
KANNEL_SENDSMS_URL="http://127.0.0.1:${KANNEL_SENDSMS_PORT}/cgi-bin/sendsms"
KANNEL_USERNAME=$(kannel_conf_value username)
KANNEL_PASSWORD=$(kannel_conf_value password)
KANNEL_ADMIN_PASSWORD=$(kannel_conf_value admin-password)
SMTP_URL="smtp://127.0.0.1:${SMTP_PORT}"
FAKESMSC_LOG="$STATE/log/fakesmsc.log"
SMTP_MAILDIR="$STATE/data/smtp"
PYTHON=${KOPA_PYTHON:-$(cd "$SCRIPT_DIR/../.." && pwd)/.venv/bin/python}

ALL_SERVERS=(redis rabbitmq elasticsearch postgresql ferretdb kannel smtp)
ES_HOME="$INSTALL/elasticsearch-$ES_VERSION"
FERRETDB_BIN="$INSTALL/bin/kopa-ferretdb"
PG_DATA="$STATE/data/postgresql"
SQLITE_DIR="$STATE/data/ferretdb-sqlite"
# Dev durability, the same on both backends: commits are not fsynced one by one, a crash
# of the machine can lose the last second of writes but never corrupts the database.
SQLITE_URL="file:$SQLITE_DIR/?_pragma=synchronous(normal)"
PG_URL="postgres://postgres@127.0.0.1:${PG_PORT}/ferretdb"

# ---------------------------------------------------------------------------------------
# helpers

say() { printf '[infra] %s\n' "$*"; }
warn() { printf '[infra] WARNING: %s\n' "$*" >&2; }
die() {
	printf '[infra] ERROR: %s\n' "$1" >&2
	shift
	local line
	for line in "$@"; do printf '[infra]   %s\n' "$line" >&2; done
	exit 1
}
now_us() { echo "${EPOCHREALTIME/./}"; }
# seconds since $1 (microseconds) with one decimal
since() {
	local ms=$((($(now_us) - $1) / 1000))
	printf '%d.%d' $((ms / 1000)) $(((ms % 1000) / 100))
}
log_of() { echo "$STATE/log/$1.log"; }
# A server killed hard (SIGKILL, OOM) whose parent has not reaped it yet is a zombie: kill -0
# still succeeds, but it is not running (`start` would wait for it and then fail).
pid_alive() {
	[[ -n ${1:-} ]] && kill -0 "$1" 2>/dev/null || return 1
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
	stat=${stat##*) }
	[[ ${stat:0:1} != [ZX] ]]
}
read_pid() { [[ -s $1 ]] && tr -dc '0-9' <"$1" || true; }
port_busy() { [[ -n $(ss -Hltn "sport = :$1" 2>/dev/null) ]]; }
port_owner() { ss -Hltnp "sport = :$1" 2>/dev/null | grep -o 'users:(([^)]*))' | head -1 || true; }
have() { command -v "$1" >/dev/null 2>&1; }

tail_log() { # file [lines]
	local f=$1 n=${2:-30}
	if [[ -s $f ]]; then
		printf '[infra] ---- last %s lines of %s ----\n' "$n" "$f" >&2
		tail -n "$n" "$f" | sed 's/^/    /' >&2
		printf '[infra] ----\n' >&2
	else
		printf '[infra] (log %s is empty or missing)\n' "$f" >&2
	fi
}

# run a command with its output going to a log; on failure show the tail and stop.
run_logged() { # logfile what cmd...
	local logf=$1 what=$2
	shift 2
	if ! "$@" >>"$logf" 2>&1; then
		tail_log "$logf" 30
		die "$what failed (full output in $logf)" "fix the cause shown above, then run the same infra.sh command again"
	fi
}

need_root() {
	[[ $(id -u) -eq 0 ]] || die "infra.sh installs packages and starts servers as system users: run it as root (sudo $0 $*)"
}

lock() { # serialise concurrent infra.sh runs (a test runner and a developer, say)
	mkdir -p "$STATE/run"
	exec 9>"$STATE/run/infra.lock"
	if ! flock -n 9; then
		say "another infra.sh is running; waiting for it (up to 10 min)..."
		flock -w 600 9 || die "could not get $STATE/run/infra.lock" "another infra.sh seems stuck: find it with 'fuser $STATE/run/infra.lock'"
	fi
}

prepare_dirs() {
	mkdir -p "$STATE/run" "$STATE/log" "$STATE/data" "$INSTALL/downloads" "$INSTALL/bin"
}

is_server() { local s; for s in "${ALL_SERVERS[@]}"; do [[ $s == "$1" ]] && return 0; done; return 1; }

default_servers() {
	if [[ $BACKEND == postgresql ]]; then
		echo redis rabbitmq elasticsearch postgresql ferretdb kannel smtp
	else
		echo redis rabbitmq elasticsearch ferretdb kannel smtp
	fi
}

# ---------------------------------------------------------------------------------------
# install

APT_UPDATED=0
POLICY_RC_WRITTEN=0
cleanup_policy_rc() { if [[ $POLICY_RC_WRITTEN == 1 ]]; then rm -f /usr/sbin/policy-rc.d; POLICY_RC_WRITTEN=0; fi; }

pkg_installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

apt_install() { # packages... (installs only the missing ones; apt never starts them)
	local missing=() p
	for p in "$@"; do pkg_installed "$p" || missing+=("$p"); done
	[[ ${#missing[@]} -eq 0 ]] && return 0
	local logf t0
	logf=$(log_of install-apt)
	t0=$(now_us)
	if [[ ! -e /usr/sbin/policy-rc.d ]]; then
		# invoke-rc.d asks policy-rc.d; 101 = "action forbidden": packages install without starting
		printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
		chmod 755 /usr/sbin/policy-rc.d
		POLICY_RC_WRITTEN=1
		trap cleanup_policy_rc EXIT
	fi
	if [[ $APT_UPDATED == 0 ]]; then
		say "apt: updating package lists..."
		run_logged "$logf" "apt-get update" apt-get -o DPkg::Lock::Timeout=300 update
		APT_UPDATED=1
	fi
	say "apt: installing ${missing[*]} (not started by apt)..."
	run_logged "$logf" "apt-get install ${missing[*]}" env DEBIAN_FRONTEND=noninteractive \
		apt-get -o DPkg::Lock::Timeout=300 install -y --no-install-recommends "${missing[@]}"
	cleanup_policy_rc
	say "apt: ${missing[*]} installed ($(since "$t0") s)"
}

java_major() { # JAVA_HOME -> major version or empty
	local v
	v=$("$1/bin/java" -version 2>&1 | sed -n 's/.*version "\([0-9]*\)[."].*/\1/p' | head -1) || true
	echo "${v:-0}"
}

es_java_home() {
	local c
	for c in "${KOPA_ES_JAVA_HOME:-}" "${ES_JAVA_HOME:-}" /usr/lib/jvm/temurin-25-jdk-amd64 $(ls -d /usr/lib/jvm/*/ 2>/dev/null | sort -Vr); do
		c=${c%/}
		[[ -n $c && -x $c/bin/java ]] || continue
		if (($(java_major "$c") >= 21)); then
			echo "$c"
			return 0
		fi
	done
	return 1
}

install_es() {
	if [[ -x $ES_HOME/bin/elasticsearch && -f $ES_HOME/.kopa-installed ]]; then
		say "elasticsearch: $ES_VERSION already installed in $ES_HOME"
		return 0
	fi
	local logf zip t0 tmp
	logf=$(log_of install-elasticsearch)
	zip="$INSTALL/downloads/elasticsearch-$ES_VERSION.zip"
	t0=$(now_us)
	if [[ ! -s $zip ]]; then
		have mvn || die "elasticsearch: mvn (Maven) is missing" "apt-get install -y maven, then run infra.sh install again"
		say "elasticsearch: downloading $ES_VERSION from Maven Central (once, cached in $INSTALL/downloads)..."
		tmp=$(mktemp -d "$INSTALL/downloads/.mvn.XXXXXX")
		# integ-test-zip: the minimal distribution, published to Maven Central for each release
		run_logged "$logf" "downloading Elasticsearch $ES_VERSION with Maven" \
			env HOME="${HOME:-/root}" mvn -B -q org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy \
			"-Dartifact=org.elasticsearch.distribution.integ-test-zip:elasticsearch:$ES_VERSION:zip" \
			"-DoutputDirectory=$tmp"
		mv "$tmp/elasticsearch-$ES_VERSION.zip" "$zip"
		rm -rf "$tmp"
		say "elasticsearch: downloaded $(du -m "$zip" | cut -f1) MB ($(since "$t0") s)"
	fi
	have unzip || die "elasticsearch: unzip is missing" "apt-get install -y unzip, then run infra.sh install again"
	say "elasticsearch: unpacking into $ES_HOME..."
	tmp=$(mktemp -d "$INSTALL/.unpack.XXXXXX")
	run_logged "$logf" "unzip $zip" unzip -q "$zip" -d "$tmp"
	rm -rf "$ES_HOME"
	mv "$tmp/elasticsearch-$ES_VERSION" "$ES_HOME"
	rm -rf "$tmp"
	id "$ES_USER" >/dev/null 2>&1 ||
		useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$ES_USER"
	# it writes its keystore and temp files under config/; it refuses to run as root
	chown -R "$ES_USER:$ES_USER" "$ES_HOME"
	touch "$ES_HOME/.kopa-installed"
	say "elasticsearch: $ES_VERSION installed ($(since "$t0") s)"
}

ferretdb_up_to_date() {
	[[ -x $FERRETDB_BIN ]] || return 1
	[[ -z $(find "$SCRIPT_DIR/ferretdb" -maxdepth 2 \( -name '*.go' -o -name go.mod -o -name go.sum -o -name '*.patch' -o -name build.sh \) -newer "$FERRETDB_BIN" -print -quit) ]]
}

install_ferretdb() {
	if ferretdb_up_to_date; then
		say "ferretdb: launcher (FerretDB $FERRETDB_VERSION) already built: $FERRETDB_BIN"
		return 0
	fi
	have go || die "ferretdb: the Go toolchain (1.24+) is missing" "install Go 1.24 or newer (Debian 12's golang is too old), then run infra.sh install again"
	local logf t0
	logf=$(log_of install-ferretdb)
	t0=$(now_us)
	say "ferretdb: building our launcher with FerretDB $FERRETDB_VERSION + deploy/local/ferretdb/patches (go build, once; about 2-4 min on 2 cores cold)..."
	# HOME may be unset in some CI shells; go needs a module and build cache
	run_logged "$logf" "go build of deploy/local/ferretdb" env HOME="${HOME:-/root}" \
		bash "$SCRIPT_DIR/ferretdb/build.sh" "$FERRETDB_BIN"
	say "ferretdb: launcher built ($(since "$t0") s)"
}

install_servers() { # servers...
	local s want_redis=0 want_rabbit=0 want_es=0 want_pg=0 want_fdb=0 want_kannel=0 want_smtp=0
	for s in "$@"; do
		case $s in
		redis) want_redis=1 ;;
		rabbitmq) want_rabbit=1 ;;
		elasticsearch) want_es=1 ;;
		postgresql) want_pg=1 ;;
		ferretdb) want_fdb=1 ;;
		kannel) want_kannel=1 ;;
		smtp) want_smtp=1 ;;
		esac
	done
	local pkgs=()
	have curl || pkgs+=(curl ca-certificates)
	have ss || pkgs+=(iproute2)
	# Not servers but tools user_service runs on KYC documents: Tesseract OCR with its English
	# data, and poppler's pdftoppm for a PDF's first page (apt_install skips what is installed).
	have tesseract || pkgs+=(tesseract-ocr)
	pkgs+=(tesseract-ocr-eng)
	have pdftoppm || pkgs+=(poppler-utils)
	((want_redis)) && pkgs+=(redis-server)
	((want_rabbit)) && pkgs+=(rabbitmq-server)
	((want_pg)) && pkgs+=(postgresql)
	# kannel-extras: the fake SMSC (fakesmsc) that stands in for an operator's SMS centre
	((want_kannel)) && pkgs+=(kannel kannel-extras)
	((want_smtp)) && check_smtp_python
	if ((want_es)); then
		have unzip || pkgs+=(unzip)
		have mvn || pkgs+=(maven)
		es_java_home >/dev/null || die "elasticsearch: no JDK 21+ found (Elasticsearch 9 needs one)" \
			"install one under /usr/lib/jvm (e.g. Temurin 25) or set KOPA_ES_JAVA_HOME; Debian 12 ships only OpenJDK 17"
	fi

	# The slow parts run side by side: apt (network + dpkg), the Elasticsearch download
	# (network) and the FerretDB go build (CPU).
	local bg_pids=() bg_names=() i rc=0
	if ((want_fdb)) && ! ferretdb_up_to_date; then
		install_ferretdb &
		bg_pids+=($!) bg_names+=(ferretdb)
		want_fdb=0
	fi
	if ((want_es)) && have mvn && have unzip && ! [[ -f $ES_HOME/.kopa-installed ]]; then
		install_es &
		bg_pids+=($!) bg_names+=(elasticsearch)
		want_es=0
	fi
	apt_install "${pkgs[@]}" || rc=1
	((want_es)) && install_es
	((want_fdb)) && install_ferretdb
	for i in "${!bg_pids[@]}"; do
		if ! wait "${bg_pids[$i]}"; then
			warn "${bg_names[$i]}: install failed (see above)"
			rc=1
		fi
	done
	((rc == 0)) || die "install failed" "see the messages above; logs are in $STATE/log/install-*.log"
	((want_rabbit)) && configure_rabbitmq
	return 0
}

# ---------------------------------------------------------------------------------------
# redis

redis_ready() { [[ $(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null) == PONG ]]; }
redis_pid() { read_pid "$STATE/run/redis.pid"; }

launch_redis() {
	mkdir -p "$STATE/data/redis"
	redis-server --daemonize yes --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no \
		--dir "$STATE/data/redis" --pidfile "$STATE/run/redis.pid" --logfile "$(log_of redis)" \
		>>"$(log_of redis)" 2>&1
}

stop_redis() {
	local t0
	t0=$(now_us)
	local pid
	pid=$(redis_pid)
	if pid_alive "$pid"; then
		redis-cli -h 127.0.0.1 -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || kill -TERM "$pid" 2>/dev/null || true
		wait_gone redis "$pid" 20 "$t0"
	else
		redis_ready && say "redis: running but not started by infra.sh; leaving it" && return 0
		say "redis: not running"
	fi
	rm -f "$STATE/run/redis.pid"
}

# ---------------------------------------------------------------------------------------
# rabbitmq

RABBIT_ENV=/etc/rabbitmq/rabbitmq-env.conf
RABBIT_CONF=/etc/rabbitmq/rabbitmq.conf
rabbit_pidfile() { echo "$STATE/run/rabbitmq/rabbitmq.pid"; }
rabbit_pid() { read_pid "$(rabbit_pidfile)"; }

configure_rabbitmq() {
	mkdir -p /etc/rabbitmq "$STATE/data/rabbitmq" "$STATE/run/rabbitmq"
	local env_conf
	env_conf=$(
		cat <<EOF
# written by deploy/local/infra.sh: a loopback-only broker for development and CI
NODENAME=rabbit@localhost
NODE_IP_ADDRESS=127.0.0.1
NODE_PORT=$AMQP_PORT
MNESIA_BASE=$STATE/data/rabbitmq
PID_FILE=$(rabbit_pidfile)
LOGS=$(log_of rabbitmq)
SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
CTL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
export ERL_EPMD_ADDRESS=127.0.0.1
EOF
	)
	[[ -f $RABBIT_ENV && $(cat "$RABBIT_ENV") == "$env_conf" ]] || printf '%s\n' "$env_conf" >"$RABBIT_ENV"
	local conf
	conf=$(
		cat <<EOF
# written by deploy/local/infra.sh
listeners.tcp.default = 127.0.0.1:$AMQP_PORT
management.tcp.ip = 127.0.0.1
management.tcp.port = $RABBIT_MGMT_PORT
EOF
	)
	[[ -f $RABBIT_CONF && $(cat "$RABBIT_CONF") == "$conf" ]] || printf '%s\n' "$conf" >"$RABBIT_CONF"
	if ! grep -qs rabbitmq_management /etc/rabbitmq/enabled_plugins; then
		say "rabbitmq: enabling the management plugin (offline)..."
		run_logged "$(log_of install-rabbitmq)" "rabbitmq-plugins enable rabbitmq_management" \
			env ERL_EPMD_ADDRESS=127.0.0.1 rabbitmq-plugins --offline enable rabbitmq_management
	fi
	touch "$(log_of rabbitmq)"
	if id rabbitmq >/dev/null 2>&1; then
		chown rabbitmq:rabbitmq "$STATE/data/rabbitmq" "$STATE/run/rabbitmq" "$(log_of rabbitmq)"
	fi
}

amqp_ready() { # an AMQP 0-9-1 protocol header is answered by a connection.start frame (type 1)
	[[ $(timeout 3 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" && printf "AMQP\x00\x00\x09\x01" >&3 && head -c 1 <&3 | od -An -tx1' _ "$AMQP_PORT" 2>/dev/null) == *01* ]]
}
rabbit_mgmt_ready() { curl -fsS -o /dev/null -u guest:guest "http://127.0.0.1:$RABBIT_MGMT_PORT/api/overview" 2>/dev/null; }
rabbitmq_ready() { amqp_ready && rabbit_mgmt_ready; }

launch_rabbitmq() {
	configure_rabbitmq
	rm -f "$(rabbit_pidfile)"
	printf '\n=== %s infra.sh start ===\n' "$(date -Is)" >>"$(log_of rabbitmq)"
	ERL_EPMD_ADDRESS=127.0.0.1 rabbitmq-server -detached >>"$(log_of rabbitmq)" 2>&1
}

stop_rabbitmq() {
	local t0
	t0=$(now_us)
	local pid
	pid=$(rabbit_pid)
	if pid_alive "$pid"; then
		ERL_EPMD_ADDRESS=127.0.0.1 rabbitmqctl -q stop "$(rabbit_pidfile)" >>"$(log_of rabbitmq)" 2>&1 || kill -TERM "$pid" 2>/dev/null || true
		wait_gone rabbitmq "$pid" 30 "$t0"
	else
		amqp_ready && say "rabbitmq: running but not started by infra.sh; leaving it" && return 0
		say "rabbitmq: not running"
	fi
	rm -f "$(rabbit_pidfile)"
	# the Erlang port mapper stays behind after the node stops; end it when nothing uses it
	if have epmd && [[ -z $(epmd -names 2>/dev/null | grep '^name ') ]]; then epmd -kill >/dev/null 2>&1 || true; fi
}

# ---------------------------------------------------------------------------------------
# elasticsearch

es_pidfile() { echo "$STATE/run/elasticsearch/elasticsearch.pid"; }
es_pid() { read_pid "$(es_pidfile)"; }
es_ready() { curl -fsS -o /dev/null --max-time 3 "$ELASTICSEARCH_URL/_cluster/health?wait_for_status=yellow&timeout=1s" 2>/dev/null; }

launch_elasticsearch() {
	local jh
	jh=$(es_java_home) || die "elasticsearch: no JDK 21+ found" "set KOPA_ES_JAVA_HOME to a JDK 21+ (Temurin 25 is under /usr/lib/jvm on this machine kind)"
	mkdir -p "$STATE/data/elasticsearch" "$STATE/log/elasticsearch" "$STATE/run/elasticsearch"
	chown "$ES_USER:$ES_USER" "$STATE/data/elasticsearch" "$STATE/log/elasticsearch" "$STATE/run/elasticsearch"
	rm -f "$(es_pidfile)"
	printf '\n=== %s infra.sh start (Elasticsearch %s, Java %s) ===\n' "$(date -Is)" "$ES_VERSION" "$jh" >>"$(log_of elasticsearch)"
	# a clean environment, as the dedicated user; the server writes its pid with -p
	(
		cd "$ES_HOME"
		setsid nohup setpriv --reuid="$ES_USER" --regid="$ES_USER" --init-groups \
			env -i PATH=/usr/local/bin:/usr/bin:/bin LANG=C.UTF-8 HOME="$STATE/data/elasticsearch" \
			ES_JAVA_HOME="$jh" ES_JAVA_OPTS="$ES_JAVA_OPTS" CLI_JAVA_OPTS="-XX:TieredStopAtLevel=1" \
			"$ES_HOME/bin/elasticsearch" -p "$(es_pidfile)" \
			-Ediscovery.type=single-node -Expack.security.enabled=false \
			-Enetwork.host=127.0.0.1 -Ehttp.port="$ES_PORT" \
			-Ecluster.routing.allocation.disk.threshold_enabled=false \
			-Epath.data="$STATE/data/elasticsearch" -Epath.logs="$STATE/log/elasticsearch" \
			>>"$(log_of elasticsearch)" 2>&1 </dev/null &
		echo $! >"$STATE/run/elasticsearch.launcher.pid"
	)
}

stop_elasticsearch() {
	local t0
	t0=$(now_us)
	local pid
	pid=$(es_pid)
	pid_alive "$pid" || pid=$(read_pid "$STATE/run/elasticsearch.launcher.pid")
	if pid_alive "$pid"; then
		kill -TERM "$pid" 2>/dev/null || true
		wait_gone elasticsearch "$pid" 60 "$t0" quiet
		local lp
		lp=$(read_pid "$STATE/run/elasticsearch.launcher.pid")
		pid_alive "$lp" && wait_gone elasticsearch-launcher "$lp" 10 "$t0" quiet
		say "elasticsearch: stopped ($(since "$t0") s)"
	else
		es_ready && say "elasticsearch: running but not started by infra.sh; leaving it" && return 0
		say "elasticsearch: not running"
	fi
	rm -f "$(es_pidfile)" "$STATE/run/elasticsearch.launcher.pid"
}

# ---------------------------------------------------------------------------------------
# postgresql (only for the FerretDB postgresql backend)

pg_bindir() {
	local d
	d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
	[[ -n $d ]] || return 1
	echo "$d"
}
pg_pid() { [[ -s $PG_DATA/postmaster.pid ]] && head -1 "$PG_DATA/postmaster.pid" | tr -dc '0-9' || true; }
pg_ready() {
	local b
	b=$(pg_bindir) || return 1
	"$b/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -t 2
}
as_postgres() { runuser -u postgres -- "$@"; }

launch_postgresql() {
	local b logf
	b=$(pg_bindir) || die "postgresql: not installed" "run: deploy/local/infra.sh install postgresql"
	logf=$(log_of postgresql)
	mkdir -p "$PG_DATA" "$STATE/run/postgresql"
	touch "$logf"
	chown postgres:postgres "$PG_DATA" "$STATE/run/postgresql" "$logf"
	chmod 700 "$PG_DATA"
	if [[ ! -s $PG_DATA/PG_VERSION ]]; then
		say "postgresql: creating a cluster in $PG_DATA (UTF8, C collation)..."
		run_logged "$logf" "initdb" as_postgres "$b/initdb" -D "$PG_DATA" -U postgres -E UTF8 --locale=C --auth=trust
	fi
	printf '\n=== %s infra.sh start ===\n' "$(date -Is)" >>"$logf"
	# synchronous_commit=off: dev durability, matching the SQLite backend's synchronous=normal;
	# log_min_error_statement=panic: each expected duplicate-key error is one line, not a dump
	run_logged "$logf" "pg_ctl start" as_postgres "$b/pg_ctl" -D "$PG_DATA" -l "$logf" -W -o \
		"-c listen_addresses=127.0.0.1 -c port=$PG_PORT -c unix_socket_directories=$STATE/run/postgresql -c synchronous_commit=off -c max_connections=200 -c log_min_error_statement=panic" \
		start
}

# the FerretDB database: UTF8 with C collation (FerretDB v1 requires it)
ensure_ferretdb_database() {
	local b
	b=$(pg_bindir)
	if [[ $("$b/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'ferretdb'") != 1 ]]; then
		say "postgresql: creating database ferretdb (UTF8, C collation)"
		run_logged "$(log_of postgresql)" "CREATE DATABASE ferretdb" "$b/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 \
			-c "CREATE DATABASE ferretdb ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0"
	fi
	# FerretDB filters on `_jsonb->'field'`, and PostgreSQL costs that as one cheap operator,
	# but each call detoasts and decompresses the whole document. So for a batch read by ids
	# (patch 0005's indexed `_id IN (...)`) the planner chose a scan of every document of
	# any collection under ~100k documents: 0.96 s instead of 4 ms for 500 ids out of 20,000.
	# Costing the field access at its real weight makes it pick the _id index.
	run_logged "$(log_of postgresql)" "cost of jsonb field access" "$b/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -d ferretdb -v ON_ERROR_STOP=1 \
		-c "ALTER FUNCTION pg_catalog.jsonb_object_field(jsonb, text) COST 100"
}

stop_postgresql() {
	local t0
	t0=$(now_us)
	local pid b
	pid=$(pg_pid)
	if pid_alive "$pid"; then
		b=$(pg_bindir)
		as_postgres "$b/pg_ctl" -D "$PG_DATA" -m fast -w -t 60 stop >>"$(log_of postgresql)" 2>&1 || kill -INT "$pid" 2>/dev/null || true
		wait_gone postgresql "$pid" 30 "$t0"
	else
		pg_ready && say "postgresql: a server on port $PG_PORT is running but was not started by infra.sh; leaving it" && return 0
		say "postgresql: not running"
	fi
}

# ---------------------------------------------------------------------------------------
# ferretdb

ferretdb_pid() { read_pid "$STATE/run/ferretdb.pid"; }
ferretdb_running_backend() { cat "$STATE/run/ferretdb.backend" 2>/dev/null || true; }
ferretdb_ready() { [[ -x $FERRETDB_BIN ]] && "$FERRETDB_BIN" -ping -listen-addr "127.0.0.1:$MONGO_PORT" 2>/dev/null; }

launch_ferretdb() {
	[[ -x $FERRETDB_BIN ]] || die "ferretdb: launcher not built" "run: deploy/local/infra.sh install ferretdb"
	case $BACKEND in
	sqlite) mkdir -p "$SQLITE_DIR" ;;
	postgresql) ensure_ferretdb_database ;;
	*) die "KOPA_FERRETDB_BACKEND=$BACKEND is not supported" "use sqlite or postgresql" ;;
	esac
	printf '\n=== %s infra.sh start (backend %s) ===\n' "$(date -Is)" "$BACKEND" >>"$(log_of ferretdb)"
	# GOGC=400: FerretDB decodes every document it reads into short-lived objects, and at Go's
	# default (100) a fifth of its CPU went to the collector; 400 costs ~100 MB more memory.
	GOGC=${GOGC:-400} KOPA_FERRETDB_BACKEND=$BACKEND KOPA_FERRETDB_LISTEN="127.0.0.1:$MONGO_PORT" \
		KOPA_FERRETDB_SQLITE_URL="$SQLITE_URL" KOPA_FERRETDB_PG_URL="$PG_URL" \
		setsid nohup "$FERRETDB_BIN" >>"$(log_of ferretdb)" 2>&1 </dev/null &
	echo $! >"$STATE/run/ferretdb.pid"
	echo "$BACKEND" >"$STATE/run/ferretdb.backend"
}

stop_ferretdb() {
	local t0
	t0=$(now_us)
	local pid
	pid=$(ferretdb_pid)
	if pid_alive "$pid"; then
		kill -TERM "$pid" 2>/dev/null || true
		wait_gone ferretdb "$pid" 30 "$t0"
	else
		ferretdb_ready && say "ferretdb: port $MONGO_PORT is served by a process not started by infra.sh; leaving it" && return 0
		say "ferretdb: not running"
	fi
	rm -f "$STATE/run/ferretdb.pid" "$STATE/run/ferretdb.backend"
}

# ---------------------------------------------------------------------------------------
# kannel: bearerbox (the core), fakesmsc (the operator's SMS centre, from kannel-extras) and
# smsbox (the HTTP sendsms interface and the delivery-report callbacks), in that order

KANNEL_BOXES=(bearerbox fakesmsc smsbox)
KANNEL_RUN="$STATE/run/kannel"
FAKESMSC_BIN=/usr/lib/kannel/test/fakesmsc

kannel_installed() { pkg_installed kannel && pkg_installed kannel-extras; }
kannel_box_pid() { read_pid "$KANNEL_RUN/$1.pid"; }
# the first box that was launched and is no longer running (so that `start` reports its
# exit), else bearerbox
kannel_pid() {
	local box pid
	for box in "${KANNEL_BOXES[@]}"; do
		pid=$(kannel_box_pid "$box")
		if [[ -n $pid ]] && ! pid_alive "$pid"; then
			echo "$pid"
			return 0
		fi
	done
	kannel_box_pid bearerbox
}
# some boxes running and some gone (fakesmsc ends when bearerbox does, say)
kannel_partly_running() {
	local box pid alive=0 gone=0
	for box in "${KANNEL_BOXES[@]}"; do
		pid=$(kannel_box_pid "$box")
		[[ -n $pid ]] || continue
		if pid_alive "$pid"; then alive=1; else gone=1; fi
	done
	((alive && gone))
}
sendsms_answers() { [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 3 "$KANNEL_SENDSMS_URL" 2>/dev/null) != 000 ]]; }
# ready = smsbox takes submissions and the fake SMSC is connected, so a message submitted now
# reaches fakesmsc at once rather than waiting in bearerbox's queue
kannel_ready() {
	sendsms_answers &&
		curl -s --max-time 3 "http://127.0.0.1:$KANNEL_ADMIN_PORT/status.txt?password=$KANNEL_ADMIN_PASSWORD" 2>/dev/null |
		grep -q "FAKE:$FAKESMSC_PORT (online"
}

# start one box as the kannel user, detached, logging to $2; its pid goes to run/kannel/
launch_kannel_box() { # box logfile command...
	local box=$1 logf=$2
	shift 2
	(
		cd "$KANNEL_RUN"
		setsid nohup setpriv --reuid="$KANNEL_USER" --regid="$(id -g "$KANNEL_USER")" --init-groups \
			"$@" >>"$logf" 2>&1 </dev/null &
		echo $! >"$KANNEL_RUN/$box.pid"
	)
}

# wait until bearerbox listens for smsbox and for the fake SMSC (both are opened at its
# start-up); fakesmsc gives up at once when it cannot connect
wait_bearerbox() {
	local t0 pid
	t0=$(now_us)
	until port_busy "$KANNEL_SMSBOX_PORT" && port_busy "$FAKESMSC_PORT"; do
		pid=$(kannel_box_pid bearerbox)
		pid_alive "$pid" || return 0 # check_ready reports the exit with the log
		(($(now_us) - t0 < READY_TIMEOUT * 1000000)) || return 0
		sleep 0.1
	done
}

launch_kannel() {
	kannel_installed || die "kannel: not installed" "run: deploy/local/infra.sh install kannel"
	local logf conf
	logf=$(log_of kannel)
	conf="$KANNEL_RUN/kannel.conf"
	mkdir -p "$KANNEL_RUN"
	# the boxes read their config as the kannel user, who may not reach the repository
	cp "$KANNEL_CONF_SRC" "$conf"
	touch "$logf" "$FAKESMSC_LOG"
	chown "$KANNEL_USER" "$KANNEL_RUN" "$conf" "$logf" "$FAKESMSC_LOG"
	printf '\n=== %s infra.sh start ===\n' "$(date -Is)" >>"$logf"
	rm -f "$KANNEL_RUN"/*.pid
	# -v 4: only panics on stderr (into the same log); --logfile at level 1 (info) for the boxes
	launch_kannel_box bearerbox "$logf" /usr/sbin/bearerbox -v 4 --logfile "$logf" --fileverbosity 1 "$conf"
	wait_bearerbox
	# -m 0: send no mobile-originated message, only receive; fakesmsc needs one message
	# argument all the same (without any it reads messages from stdin and ends at EOF).
	# It logs each message it receives, at debug level, as
	#   ... DEBUG: Got message N: <sender receiver text|data|ucs-2 payload>
	launch_kannel_box fakesmsc "$logf" "$FAKESMSC_BIN" -H 127.0.0.1 -r "$FAKESMSC_PORT" -m 0 \
		-v 4 --logfile "$FAKESMSC_LOG" --fileverbosity 0 "0 0 text unused"
	launch_kannel_box smsbox "$logf" /usr/sbin/smsbox -v 4 --logfile "$logf" --fileverbosity 1 "$conf"
}

stop_kannel() {
	local t0 box pid stopped=0
	t0=$(now_us)
	# smsbox first, so that no submission is taken that bearerbox cannot hand over; fakesmsc
	# ends by itself when bearerbox closes its connection
	for box in smsbox bearerbox fakesmsc; do
		pid=$(kannel_box_pid "$box")
		if pid_alive "$pid"; then
			kill -TERM "$pid" 2>/dev/null || true
			wait_gone "kannel-$box" "$pid" 20 "$(now_us)" quiet
			stopped=1
		fi
		rm -f "$KANNEL_RUN/$box.pid"
	done
	if ((stopped)); then
		say "kannel: stopped ($(since "$t0") s)"
	else
		sendsms_answers && say "kannel: port $KANNEL_SENDSMS_PORT is served by a process not started by infra.sh; leaving it" && return 0
		say "kannel: not running"
	fi
}

# ---------------------------------------------------------------------------------------
# smtp: aiosmtpd's own command line with its Mailbox handler (every message into a Maildir)

smtp_installed() { [[ -x $PYTHON ]] && "$PYTHON" -c 'import aiosmtpd' 2>/dev/null; }
check_smtp_python() {
	smtp_installed || die "smtp: aiosmtpd is missing from $PYTHON" \
		"run: make install (uv sync installs it from uv.lock), or set KOPA_PYTHON to a Python that has it"
}
smtp_pid() { read_pid "$STATE/run/smtp.pid"; }
# an SMTP server greets with 220; QUIT ends the session cleanly
smtp_ready() {
	[[ $(timeout 3 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" && head -c 3 <&3 && printf "QUIT\r\n" >&3' _ "$SMTP_PORT" 2>/dev/null) == 220 ]]
}

launch_smtp() {
	check_smtp_python
	# a Maildir is these three folders (Python's Maildir creates them only with the folder)
	mkdir -p "$SMTP_MAILDIR"/{tmp,new,cur}
	printf '\n=== %s infra.sh start ===\n' "$(date -Is)" >>"$(log_of smtp)"
	# -n: stay the user that started it rather than setuid to nobody (who could not write the
	# Maildir); -u: accept SMTPUTF8 (non-ASCII addresses)
	setsid nohup "$PYTHON" -m aiosmtpd -n -u -l "127.0.0.1:$SMTP_PORT" \
		-c aiosmtpd.handlers.Mailbox "$SMTP_MAILDIR" >>"$(log_of smtp)" 2>&1 </dev/null &
	echo $! >"$STATE/run/smtp.pid"
}

stop_smtp() {
	local t0 pid
	t0=$(now_us)
	pid=$(smtp_pid)
	if pid_alive "$pid"; then
		kill -TERM "$pid" 2>/dev/null || true
		wait_gone smtp "$pid" 20 "$t0"
	else
		smtp_ready && say "smtp: port $SMTP_PORT is served by a process not started by infra.sh; leaving it" && return 0
		say "smtp: not running"
	fi
	rm -f "$STATE/run/smtp.pid"
}

# ---------------------------------------------------------------------------------------
# generic start / wait / stop

server_ready() { case $1 in redis) redis_ready ;; rabbitmq) rabbitmq_ready ;; elasticsearch) es_ready ;; postgresql) pg_ready ;; ferretdb) ferretdb_ready ;; kannel) kannel_ready ;; smtp) smtp_ready ;; esac }
server_pid() { case $1 in redis) redis_pid ;; rabbitmq) rabbit_pid ;; elasticsearch) es_pid ;; postgresql) pg_pid ;; ferretdb) ferretdb_pid ;; kannel) kannel_pid ;; smtp) smtp_pid ;; esac }
server_port() { case $1 in redis) echo "$REDIS_PORT" ;; rabbitmq) echo "$AMQP_PORT" ;; elasticsearch) echo "$ES_PORT" ;; postgresql) echo "$PG_PORT" ;; ferretdb) echo "$MONGO_PORT" ;; kannel) echo "$KANNEL_SENDSMS_PORT" ;; smtp) echo "$SMTP_PORT" ;; esac }
server_url() {
	case $1 in
	redis) echo "$REDIS_URL" ;;
	rabbitmq) echo "$AMQP_URL (management http://127.0.0.1:$RABBIT_MGMT_PORT)" ;;
	elasticsearch) echo "$ELASTICSEARCH_URL" ;;
	postgresql) echo "postgres://postgres@127.0.0.1:$PG_PORT/ferretdb" ;;
	ferretdb) echo "$MONGODB_URL (backend $(ferretdb_running_backend))" ;;
	kannel) echo "$KANNEL_SENDSMS_URL (fake SMSC log $FAKESMSC_LOG)" ;;
	smtp) echo "$SMTP_URL (Maildir $SMTP_MAILDIR)" ;;
	esac
}

wait_gone() { # name pid timeout [t0 of the stop request] [quiet]
	local name=$1 pid=$2 limit=$3 t0=${4:-$(now_us)} quiet=${5:-}
	while pid_alive "$pid"; do
		if (($(now_us) - t0 > limit * 1000000)); then
			warn "$name: pid $pid did not stop within $limit s; sending SIGKILL"
			kill -KILL "$pid" 2>/dev/null || true
			sleep 0.5
			break
		fi
		sleep 0.1
	done
	[[ -n $quiet ]] || say "$name: stopped ($(since "$t0") s)"
}

declare -A LAUNCHED_AT=()

# start one server without waiting; returns 1 when it is already up
launch() {
	local s=$1 pid
	if [[ $s == ferretdb && -n $(ferretdb_running_backend) && $(ferretdb_running_backend) != "$BACKEND" ]] && pid_alive "$(ferretdb_pid)"; then
		say "ferretdb: running with backend $(ferretdb_running_backend), $BACKEND requested: restarting it"
		stop_ferretdb
	fi
	if [[ $s == kannel ]] && kannel_partly_running; then
		say "kannel: some of its boxes have ended; restarting them all"
		stop_kannel
	fi
	if server_ready "$s"; then
		pid=$(server_pid "$s")
		if pid_alive "$pid"; then
			say "$s: already running (pid $pid), ready on $(server_url "$s")"
		else
			say "$s: port $(server_port "$s") is already served by a process not started by infra.sh ($(port_owner "$(server_port "$s")")); using it"
		fi
		return 1
	fi
	pid=$(server_pid "$s")
	if pid_alive "$pid"; then
		say "$s: process $pid is running but not ready yet; waiting for it"
		LAUNCHED_AT[$s]=$(now_us)
		return 0
	fi
	if port_busy "$(server_port "$s")"; then
		die "$s: port $(server_port "$s") is taken by another process: $(port_owner "$(server_port "$s")")" \
			"stop that process (or its service) and run infra.sh start again"
	fi
	say "$s: starting..."
	LAUNCHED_AT[$s]=$(now_us)
	# fd 9 holds infra.sh's lock: the servers must not inherit it
	"launch_$s" 9>&-
}

# one readiness check of a launched server: 0 ready, 1 not yet, 2 failed (message printed)
check_ready() { # server
	local s=$1 t0=${LAUNCHED_AT[$1]} pid logf
	if server_ready "$s"; then
		say "$s: ready on $(server_url "$s") ($(since "$t0") s)"
		return 0
	fi
	logf=$(log_of "$s")
	pid=$(server_pid "$s")
	if [[ $s == elasticsearch ]] && ! pid_alive "$pid"; then pid=$(read_pid "$STATE/run/elasticsearch.launcher.pid"); fi
	if [[ -n $pid && $s != postgresql ]] && ! pid_alive "$pid"; then
		printf '[infra] ERROR: %s: the process (pid %s) exited during start-up\n' "$s" "$pid" >&2
		tail_log "$logf" 30
		printf '[infra]   fix the cause shown in the log above (full log: %s), then run: %s start %s\n' "$logf" "$0" "$s" >&2
		return 2
	fi
	if (($(now_us) - t0 > READY_TIMEOUT * 1000000)); then
		printf '[infra] ERROR: %s: not ready after %s s\n' "$s" "$READY_TIMEOUT" >&2
		tail_log "$logf" 30
		printf '[infra]   read the log above (full log: %s); on a slow machine raise KOPA_READY_TIMEOUT; if its data is damaged, "%s reset %s" wipes it; then start again\n' "$logf" "$0" "$s" >&2
		return 2
	fi
	return 1
}

# poll every launched server until each is ready or has failed; 0 when all are ready
wait_all() { # servers...
	local pending=("$@") next s rc=0 r
	while ((${#pending[@]} > 0)); do
		next=()
		for s in "${pending[@]}"; do
			[[ -n $s ]] || continue
			r=0
			check_ready "$s" || r=$?
			case $r in
			0) ;;
			1) next+=("$s") ;;
			*) rc=1 ;;
			esac
		done
		pending=("${next[@]}")
		((${#pending[@]} == 0)) || sleep 0.2
	done
	return $rc
}

# NAME=value lines of everything the services and the tests read
env_lines() {
	local v
	for v in MONGODB_URL ELASTICSEARCH_URL AMQP_URL REDIS_URL KANNEL_SENDSMS_URL KANNEL_USERNAME \
		KANNEL_PASSWORD SMTP_URL; do
		printf '%s=%s\n' "$v" "${!v}"
	done
	printf 'KOPA_FAKESMSC_LOG=%s\nKOPA_SMTP_MAILDIR=%s\n' "$FAKESMSC_LOG" "$SMTP_MAILDIR"
}

write_env_file() {
	local f="$SCRIPT_DIR/servers.env" content
	content=$(env_lines)
	[[ -f $f && $(cat "$f") == "$content" ]] || printf '%s\n' "$content" >"$f"
}

cmd_start() {
	local servers=("$@") s rc=0 t0 need=()
	t0=$(now_us)
	# install whatever is missing (a no-op on a warm machine)
	for s in "${servers[@]}"; do
		case $s in
		redis) have redis-server || need+=(redis) ;;
		rabbitmq) pkg_installed rabbitmq-server && [[ -f $RABBIT_ENV ]] || need+=(rabbitmq) ;;
		elasticsearch) [[ -f $ES_HOME/.kopa-installed ]] || need+=(elasticsearch) ;;
		postgresql) pg_bindir >/dev/null || need+=(postgresql) ;;
		ferretdb) ferretdb_up_to_date || need+=(ferretdb) ;;
		kannel) kannel_installed || need+=(kannel) ;;
		smtp) smtp_installed || need+=(smtp) ;;
		esac
	done
	[[ ${#need[@]} -eq 0 ]] || install_servers "${need[@]}"
	write_env_file

	# launch in the order of their start-up time; FerretDB waits for PostgreSQL
	local waiting=()
	for s in elasticsearch rabbitmq redis postgresql kannel smtp; do
		[[ " ${servers[*]} " == *" $s "* ]] || continue
		if launch "$s"; then waiting+=("$s"); fi
	done
	if [[ " ${servers[*]} " == *" ferretdb "* ]]; then
		if [[ $BACKEND == postgresql ]]; then
			if [[ " ${waiting[*]} " == *" postgresql "* ]]; then
				wait_all postgresql || rc=1
				waiting=("${waiting[@]/postgresql/}")
			fi
			pg_ready || die "ferretdb: the postgresql backend needs PostgreSQL on 127.0.0.1:$PG_PORT" "run: KOPA_FERRETDB_BACKEND=postgresql $0 start"
		fi
		if launch ferretdb; then waiting+=(ferretdb); fi
	fi
	wait_all "${waiting[@]}" || rc=1
	if ((rc != 0)); then
		die "some servers did not start (see above)" "status: $0 status; logs: $STATE/log/"
	fi
	say "all ready ($(since "$t0") s); the services' environment is in $SCRIPT_DIR/servers.env"
}

cmd_stop() {
	local servers=("$@") s pids=() rc=0 p
	# all side by side, except FerretDB before its PostgreSQL
	(for s in ferretdb postgresql; do [[ " ${servers[*]} " == *" $s "* ]] && "stop_$s"; done; true) &
	pids+=($!)
	for s in elasticsearch rabbitmq redis kannel smtp; do
		[[ " ${servers[*]} " == *" $s "* ]] || continue
		"stop_$s" &
		pids+=($!)
	done
	for p in "${pids[@]}"; do wait "$p" || rc=1; done
	return $rc
}

cmd_status() {
	local servers=("$@") s pid state rc=0 expected
	expected=" $(default_servers) "
	for s in "${servers[@]}"; do
		pid=$(server_pid "$s")
		if server_ready "$s"; then
			if pid_alive "$pid"; then state="ready    pid ${pid}"; else state="ready    (not started by infra.sh)"; fi
			printf '[infra] %-14s %-36s %s\n' "$s" "$state" "$(server_url "$s")"
		else
			if pid_alive "$pid"; then state="STARTING pid ${pid} (not answering yet)"; else state="stopped"; fi
			if [[ $expected == *" $s "* ]]; then
				rc=3
			else
				state="$state (not used with backend $BACKEND)"
			fi
			printf '[infra] %-14s %s\n' "$s" "$state"
		fi
	done
	if [[ -f $SCRIPT_DIR/servers.env ]]; then say "environment: $SCRIPT_DIR/servers.env"; fi
	return $rc
}

cmd_reset() {
	local servers=("$@") s
	cmd_stop "${servers[@]}"
	for s in "${servers[@]}"; do
		case $s in
		redis) rm -rf "$STATE/data/redis" ;;
		rabbitmq) rm -rf "$STATE/data/rabbitmq" ;;
		elasticsearch) rm -rf "$STATE/data/elasticsearch" "$STATE/log/elasticsearch" ;;
		postgresql) rm -rf "$PG_DATA" ;;
		ferretdb) rm -rf "$SQLITE_DIR" ;;
		kannel) rm -rf "$KANNEL_RUN" "$FAKESMSC_LOG" ;;
		smtp) rm -rf "$SMTP_MAILDIR" ;;
		esac
		rm -f "$(log_of "$s")"
		say "$s: data and log wiped"
	done
}

cmd_logs() {
	local s
	for s in "$@"; do
		tail_log "$(log_of "$s")" 50 2>&1
		[[ $s != kannel ]] || tail_log "$FAKESMSC_LOG" 50 2>&1
	done
}

usage() {
	sed -n '2,/^set /{/^#/p}' "$0" | sed 's/^# \{0,1\}//'
}

main() {
	local cmd=${1:-help}
	shift || true
	local s servers=()
	for s in "$@"; do
		is_server "$s" || die "unknown server '$s'" "servers: ${ALL_SERVERS[*]}"
		servers+=("$s")
	done
	case $BACKEND in sqlite | postgresql) ;; *) die "KOPA_FERRETDB_BACKEND=$BACKEND is not supported" "use sqlite or postgresql" ;; esac
	case $cmd in
	install | start | restart)
		[[ ${#servers[@]} -gt 0 ]] || read -ra servers <<<"$(default_servers)"
		;;
	stop | status | reset | logs)
		[[ ${#servers[@]} -gt 0 ]] || servers=("${ALL_SERVERS[@]}")
		;;
	esac
	case $cmd in
	install)
		need_root "$cmd"
		lock
		prepare_dirs
		local t0
		t0=$(now_us)
		install_servers "${servers[@]}"
		say "install done ($(since "$t0") s)"
		;;
	start)
		need_root "$cmd"
		lock
		prepare_dirs
		cmd_start "${servers[@]}"
		;;
	stop)
		need_root "$cmd"
		lock
		prepare_dirs
		cmd_stop "${servers[@]}"
		;;
	restart)
		need_root "$cmd"
		lock
		prepare_dirs
		cmd_stop "${servers[@]}"
		cmd_start "${servers[@]}"
		;;
	status) cmd_status "${servers[@]}" ;;
	reset)
		need_root "$cmd"
		lock
		prepare_dirs
		cmd_reset "${servers[@]}"
		;;
	env)
		local line
		while IFS= read -r line; do printf 'export %s=%q\n' "${line%%=*}" "${line#*=}"; done < <(env_lines)
		;;
	logs) cmd_logs "${servers[@]}" ;;
	check)
		[[ -x $PYTHON ]] || die "check: no Python at $PYTHON" "create the project venv (uv sync) or set KOPA_PYTHON"
		local vars
		mapfile -t vars < <(env_lines)
		env "${vars[@]}" "$PYTHON" "$SCRIPT_DIR/smoke_check.py"
		;;
	help | -h | --help) usage ;;
	*)
		usage >&2
		die "unknown command '$cmd'" "use one of: install start stop restart status reset env logs check"
		;;
	esac
}

main "$@"
