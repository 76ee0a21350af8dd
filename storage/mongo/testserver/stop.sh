#!/usr/bin/env bash
# stop.sh stops the test server started by start.sh and removes its temporary
# directory. It takes that directory from $CTIBROKER_TEST_MONGODB_STATE (set by
# eval "$(start.sh)") or as its first argument; it does nothing when neither is set.
set -euo pipefail

state=${1:-${CTIBROKER_TEST_MONGODB_STATE:-}}
if [ -z "$state" ] || [ ! -f "$state/pid" ]; then
	exit 0
fi
pid=$(cat "$state/pid")
if kill -TERM "$pid" 2>/dev/null; then
	for _ in $(seq 1 100); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		echo "stop.sh: test server $pid ignored SIGTERM for 10 s; killing it" >&2
		kill -KILL "$pid" 2>/dev/null || true
	fi
fi
rm -rf "$state"
