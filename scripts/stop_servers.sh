#!/usr/bin/env bash
# Stop the services started by scripts/start_servers.sh: SIGTERM to exactly the PIDs in
# logs/auth.pid and logs/tutorial.pid (checked to still run bin/<service> of this checkout),
# wait for the graceful shutdown (STOP_TIMEOUT seconds, default 30, then SIGKILL to that PID
# only) and remove the PID files. Nothing else is signalled.
set -euo pipefail

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

case ${1-} in
"") ;;
-h | --help)
	usage
	exit 0
	;;
*)
	warn "usage: scripts/stop_servers.sh"
	exit 2
	;;
esac

STOP_TIMEOUT=${STOP_TIMEOUT:-30}

declare -A pid
for name in "${SERVICES[@]}"; do
	if p=$(running_pid "$name"); then
		pid[$name]=$p
		# Signal both first so they shut down in parallel.
		kill -TERM "$p" 2>/dev/null || true
	else
		say "$name: not running"
	fi
done

for name in "${!pid[@]}"; do
	stop_pid "$name" "${pid[$name]}" "$STOP_TIMEOUT"
	say "$name: stopped (pid ${pid[$name]})"
done
