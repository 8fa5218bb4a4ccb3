#!/usr/bin/env bash
# Start the auth and tutorial services of this checkout for local development.
#
#   scripts/start_servers.sh               build if needed, start both in the background, return
#   scripts/start_servers.sh --foreground  same, but stay attached: logs on the terminal,
#                                          Ctrl-C stops both (what `make run` uses)
#   scripts/start_servers.sh --no-build    use bin/auth and bin/tutorial as they are
#   scripts/start_servers.sh --seed        also add the demo accounts and sample tutorial
#                                          (itssctl db seed; idempotent; `make run` uses it)
#
# Settings come from the environment and from .env (the environment wins), exactly as the
# services read them: AUTH_ADDR, TUTORIAL_ADDR, SQLALCHEMY_DATABASE_URI, STORAGE_TYPE, ...
# Logs go to logs/<service>.log, PID files to logs/<service>.pid. Starting twice does not
# start duplicates. Knobs for this script only: HEALTH_TIMEOUT (s, default 30),
# STOP_TIMEOUT (s, default 30), GO (go command, default go).
set -euo pipefail

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

foreground=false
build=true
seed=false
for arg in "$@"; do
	case $arg in
	-f | --foreground) foreground=true ;;
	--no-build) build=false ;;
	--seed) seed=true ;;
	-h | --help)
		usage
		exit 0
		;;
	*)
		usage >&2
		exit 2
		;;
	esac
done

HEALTH_TIMEOUT=${HEALTH_TIMEOUT:-30}
STOP_TIMEOUT=${STOP_TIMEOUT:-30}
GO=${GO:-go}

cd "$ITSS_ROOT"
mkdir -p "$LOG_DIR" "$BIN_DIR"

# --- settings the script itself needs -------------------------------------------------------

declare -A addr
addr[auth]=$(conf AUTH_ADDR :5001)
addr[tutorial]=$(conf TUTORIAL_ADDR :5002)

# probe_host ADDR prints the host to probe: a wildcard listen address is reached on loopback.
probe_host() {
	local host=${1%:*}
	host=${host#[} host=${host%]}
	case $host in
	"" | 0.0.0.0 | "::") host=127.0.0.1 ;;
	esac
	[[ $host == *:* ]] && host="[$host]"
	printf '%s' "$host"
}
port_of() { printf '%s' "${1##*:}"; }

# public_url NAME prints the URL a person on this machine would open.
public_url() {
	local a=${addr[$1]} host
	host=$(probe_host "$a")
	[[ $host == 127.0.0.1 ]] && host=localhost
	printf 'http://%s:%s' "$host" "$(port_of "$a")"
}

# Backend side, REACT_APP_TUTORIAL_URL is the base of the `recording` links the browser
# follows and REACT_APP_AUTH_URL the token issuer/JWKS location. When they are not set,
# derive them from the listen addresses, so that another TUTORIAL_ADDR keeps audio working.
for name in auth tutorial; do
	var=REACT_APP_${name^^}_URL
	url=$(conf "$var")
	if [[ -z $url ]]; then
		printf -v "$var" '%s' "$(public_url "$name")"
		export "${var?}"
		continue
	fi
	# A local URL that names another port than the service listens on breaks the audio links
	# and the guest author's sample copy (TUTORIAL), or the JWKS fallback (AUTH).
	hostport=${url#*://} hostport=${hostport%%/*}
	case $hostport in
	localhost:* | 127.0.0.1:* | "[::1]":*)
		if [[ ${hostport##*:} != "$(port_of "${addr[$name]}")" ]]; then
			warn "warning: $var=$url but ${name^^}_ADDR=${addr[$name]}; empty $var to derive it from the address"
		fi
		;;
	esac
done

health_url() { printf 'http://%s:%s/health' "$(probe_host "${addr[$1]}")" "$(port_of "${addr[$1]}")"; }

# healthy NAME is true when /health of NAME answers 200.
healthy() {
	local url
	url=$(health_url "$1")
	if command -v curl >/dev/null 2>&1; then
		curl -fsS -m 2 -o /dev/null "$url" 2>/dev/null
		return
	fi
	# Without curl: a plain HTTP/1.0 request over bash's /dev/tcp (IPv4 and names only).
	local host port status
	host=$(probe_host "${addr[$1]}") port=$(port_of "${addr[$1]}")
	{ exec 3<>"/dev/tcp/$host/$port"; } 2>/dev/null || return 1
	printf 'GET /health HTTP/1.0\r\nHost: %s\r\n\r\n' "$host" >&3
	IFS= read -r -t 2 status <&3 || status=
	exec 3>&-
	[[ $status == "HTTP/1."[01]" 200"* ]]
}

database=$(conf SQLALCHEMY_DATABASE_URI)
[[ -n $database ]] || database=$(conf DATABASE_URL)
[[ -n $database ]] || database=sqlite:///data/itss.db
# SQLite does not create missing folders: make the one of the database file.
case $database in
sqlite:///*)
	db_path=${database#sqlite:///}
	mkdir -p "$(dirname "$db_path")"
	;;
esac
# Never print a database password.
database_shown=$(printf '%s' "$database" | sed -E 's#(://[^:/@]*):[^@]*@#\1:***@#')
storage=$(conf STORAGE_TYPE local)
api_auth=$(conf API_AUTH required)

# A development APP_SECRET_KEY when none is set, so that `make run` needs no setup. It is kept
# in data/ (git-ignored) so that signed file URLs survive a restart.
dev_secret() {
	local key_file=data/dev-app-secret-key
	if [[ ! -s $key_file ]]; then
		mkdir -p data
		(
			umask 077
			od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$key_file"
		)
	fi
	APP_SECRET_KEY=$(<"$key_file")
	export APP_SECRET_KEY
	say "APP_SECRET_KEY is not set: using a DEVELOPMENT value from $key_file."
	say "Set APP_SECRET_KEY (at least 32 bytes) in the environment or .env for anything but local development."
}

# --- what is already running ----------------------------------------------------------------

declare -A pid
to_start=()
for name in "${SERVICES[@]}"; do
	if p=$(running_pid "$name"); then
		pid[$name]=$p
		continue
	fi
	# A listener we did not start would answer our health checks and hide a failed start.
	if healthy "$name"; then
		die "something not started by this script already answers $(health_url "$name"); stop it or set ${name^^}_ADDR"
	fi
	to_start+=("$name")
done

if $foreground && ((${#to_start[@]} < ${#SERVICES[@]})); then
	die "already running in the background (pids: ${pid[*]}): stop with scripts/stop_servers.sh first"
fi

if ((${#to_start[@]} > 0)) && [[ -z $(conf APP_SECRET_KEY) ]]; then
	dev_secret
fi

# --- build -------------------------------------------------------------------------------

# needs_build NAME is true when bin/NAME is missing or older than any source it may embed.
needs_build() {
	local bin
	bin=$(bin_path "$1")
	[[ -x $bin ]] || return 0
	[[ -n $(find cmd internal migrations go.mod go.sum -type f -newer "$bin" -print -quit 2>/dev/null) ]]
}

if $build; then
	for name in "${to_start[@]}"; do
		needs_build "$name" || continue
		[[ -d cmd/$name ]] || die "cmd/$name does not exist yet: nothing to build"
		command -v "$GO" >/dev/null 2>&1 || die "bin/$name is missing or stale and '$GO' is not installed"
		say "building bin/$name"
		# Build beside and rename: a running binary cannot be overwritten in place.
		"$GO" build -o "$BIN_DIR/.$name.tmp" "./cmd/$name"
		mv -f "$BIN_DIR/.$name.tmp" "$BIN_DIR/$name"
		# go build leaves an up-to-date output untouched; mark it fresh for the next check.
		touch "$BIN_DIR/$name"
	done
fi
for name in "${to_start[@]}"; do
	[[ -x $(bin_path "$name") ]] || die "bin/$name is missing (run without --no-build)"
done

# The demo accounts (test@its.com, testa@its.com, testl@its.com) and the sample tutorial.
if $seed; then
	if $build; then
		"$GO" build -o "$BIN_DIR/.itssctl.tmp" ./cmd/itssctl
		mv -f "$BIN_DIR/.itssctl.tmp" "$BIN_DIR/itssctl"
	fi
	[[ -z $(conf APP_SECRET_KEY) ]] && dev_secret
	"$(bin_path itssctl)" db seed || die "seeding the demo data failed"
fi

# --- start -------------------------------------------------------------------------------

started=()

# start NAME launches bin/NAME in its own session (setsid), so that Ctrl-C on the terminal
# reaches this script only and the services are stopped with SIGTERM, never half-killed.
start() {
	local name=$1 log
	log=$(log_file "$name")
	printf '==== %s start %s (%s) ====\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$name" "${addr[$name]}" >>"$log"
	if $foreground; then
		local prefix
		prefix=$(printf '%-8s | ' "$name")
		# The log pipe ignores INT/TERM so the last lines a service writes while stopping
		# still reach the terminal and the log file.
		setsid "$(bin_path "$name")" </dev/null > >(
			trap '' INT TERM
			tee -a "$log" | sed -u "s/^/$prefix/"
		) 2>&1 &
	else
		setsid "$(bin_path "$name")" </dev/null >>"$log" 2>&1 &
	fi
	pid[$name]=$!
	printf '%s\n' "${pid[$name]}" >"$(pid_file "$name")"
	started+=("$name")
}

stop_started() {
	local name
	for name in "${started[@]}"; do
		if alive "${pid[$name]}"; then
			kill -TERM "${pid[$name]}" 2>/dev/null || true
		fi
	done
	for name in "${started[@]}"; do
		stop_pid "$name" "${pid[$name]}" "$STOP_TIMEOUT"
	done
	started=()
}

fail_start() {
	local name=$1 why=$2
	warn "$name $why; last lines of $(log_file "$name"):"
	tail -n 40 "$(log_file "$name")" >&2 || true
	stop_started
	exit 1
}

# The auth service creates the signing key the tutorial service reads (data/keys): start it
# first and let it answer before the tutorial service starts.
for name in "${to_start[@]}"; do
	start "$name"
	deadline=$((SECONDS + HEALTH_TIMEOUT))
	until healthy "$name"; do
		alive "${pid[$name]}" || fail_start "$name" "exited during start-up"
		((SECONDS < deadline)) || fail_start "$name" "did not answer $(health_url "$name") within ${HEALTH_TIMEOUT}s"
		sleep 0.2
	done
	is_ours "$name" "${pid[$name]}" || fail_start "$name" "is not the process answering $(health_url "$name")"
done

# --- tell the developer ------------------------------------------------------------------

summary() {
	local name auth_url tutorial_url
	say ""
	if ((${#started[@]} == 0)); then
		say "ITSS-Go was already running"
	else
		say "ITSS-Go is running"
	fi
	for name in "${SERVICES[@]}"; do
		printf '  %-9s %-24s pid %-8s log logs/%s.log\n' "$name" "$(public_url "$name")" "${pid[$name]}" "$name"
	done
	printf '  %-9s %s\n' database "$database_shown" storage "$storage" API_AUTH "$api_auth"
	auth_url=$(public_url auth) tutorial_url=$(public_url tutorial)
	say ""
	say "React frontend (unmodified), from its client/ folder:"
	say "  REACT_APP_AUTH_URL=$auth_url REACT_APP_TUTORIAL_URL=$tutorial_url npm start"
	if [[ $api_auth == optional ]]; then
		say "API_AUTH=optional: tutorial routes also serve requests without a token, as the original did (development only)."
	else
		say "The frontend on another origin (npm start, http://localhost:3000) sends no token to the tutorial"
		say "service, so restart with API_AUTH=optional for it (e.g. API_AUTH=optional make run); keep its"
		say "origin in ALLOWED_ORIGINS (default http://localhost:3000). API_AUTH=required works with the"
		say "unmodified frontend when the SPA and both APIs share one origin: see deploy/README.md."
	fi
	if $foreground; then
		say "Ctrl-C stops both services."
	else
		say "Stop with: scripts/stop_servers.sh"
	fi
	say ""
}

if ! $foreground; then
	summary
	exit 0
fi

on_signal() {
	trap - INT TERM
	say ""
	say "stopping..."
	stop_started
	exit 130
}
trap on_signal INT TERM
trap 'stop_started' EXIT
summary

# Stay until Ctrl-C or until one service exits, then stop the other.
while true; do
	for name in "${SERVICES[@]}"; do
		if ! alive "${pid[$name]}"; then
			warn "$name (pid ${pid[$name]}) exited; stopping the other service"
			stop_started
			exit 1
		fi
	done
	# sleep in the background and wait for it, so a signal is handled at once
	sleep 1 &
	wait $! || true
done
