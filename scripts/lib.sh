# Shared helpers of start_servers.sh and stop_servers.sh; sourced, not run.
# shellcheck shell=bash

# Both scripts work from the repository root so that relative paths (.env, bin/, logs/,
# data/, storage/) mean the same as for the services, which read .env from their working
# directory.
ITSS_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LOG_DIR="$ITSS_ROOT/logs"
BIN_DIR="$ITSS_ROOT/bin"
# shellcheck disable=SC2034 # used by the scripts that source this file
SERVICES=(auth tutorial)

say() { printf '%s\n' "$*"; }
warn() { printf '%s\n' "$*" >&2; }
die() {
	warn "error: $*"
	exit 1
}

# usage prints the comment block at the top of the calling script.
usage() {
	awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
}

pid_file() { printf '%s/%s.pid' "$LOG_DIR" "$1"; }
log_file() { printf '%s/%s.log' "$LOG_DIR" "$1"; }
bin_path() { printf '%s/%s' "$BIN_DIR" "$1"; }

# conf KEY DEFAULT prints the value the services will see: the environment wins over .env,
# as in internal/config. Only simple KEY=VALUE lines are understood (optional "export",
# single or double quotes, trailing " # comment" on unquoted values); that covers the
# examples shipped in the repository.
conf() {
	local key=$1 default=${2-} line value
	if [[ -n ${!key+x} ]]; then
		printf '%s' "${!key}"
		return
	fi
	value=$default
	if [[ -f $ITSS_ROOT/.env ]]; then
		while IFS= read -r line || [[ -n $line ]]; do
			line=${line#"${line%%[![:space:]]*}"}
			line=${line#export }
			[[ $line == "$key="* ]] || continue
			value=${line#"$key="}
			case $value in
			\"*\"*) value=${value#\"} value=${value%%\"*} ;;
			\'*\'*) value=${value#\'} value=${value%%\'*} ;;
			*) value=${value%%[[:space:]]#*} value=${value%"${value##*[![:space:]]}"} ;;
			esac
		done <"$ITSS_ROOT/.env"
	fi
	printf '%s' "$value"
}

# alive PID is true while PID exists and is not a zombie (a child of ours that exited but
# was not reaped yet still answers kill -0).
alive() {
	local state
	[[ -r /proc/$1/stat ]] || return 1
	state=$(sed -E 's/^[0-9]+ \(.*\) ([A-Za-z]).*/\1/' "/proc/$1/stat" 2>/dev/null) || return 1
	[[ -n $state && $state != Z && $state != X ]]
}

# is_ours NAME PID is true when PID runs bin/NAME of this checkout, so that a PID file left
# behind after a reboot never makes us signal an unrelated process that reused the number.
is_ours() {
	local name=$1 pid=$2 exe
	alive "$pid" || return 1
	exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || return 1
	exe=${exe% (deleted)} # the binary may have been rebuilt since it started
	[[ $exe == "$(bin_path "$name")" ]]
}

# running_pid NAME prints the PID of our running instance of NAME, removing a stale PID file.
running_pid() {
	local name=$1 file pid
	file=$(pid_file "$name")
	[[ -f $file ]] || return 1
	pid=$(<"$file")
	if [[ $pid =~ ^[0-9]+$ ]] && is_ours "$name" "$pid"; then
		printf '%s' "$pid"
		return 0
	fi
	rm -f "$file"
	return 1
}

# stop_pid NAME PID TIMEOUT: SIGTERM (the services finish in-flight requests and kill running
# sandboxes), wait, and SIGKILL only that PID if it outlives the timeout.
stop_pid() {
	local name=$1 pid=$2 timeout=$3 waited=0
	kill -TERM "$pid" 2>/dev/null || true
	while alive "$pid"; do
		if ((waited >= timeout * 10)); then
			warn "$name (pid $pid) still running after ${timeout}s: sending SIGKILL"
			kill -KILL "$pid" 2>/dev/null || true
			break
		fi
		sleep 0.1
		waited=$((waited + 1))
	done
	rm -f "$(pid_file "$name")"
}
