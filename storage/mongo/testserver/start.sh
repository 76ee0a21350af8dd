#!/usr/bin/env bash
# start.sh builds the FerretDB test server (this directory's own Go module), starts it
# in the background on a free loopback port with a fresh temporary data directory,
# waits until it accepts connections, and prints shell lines for eval:
#
#   eval "$(bash storage/mongo/testserver/start.sh)"
#   go test ./storage/mongo/...
#   bash storage/mongo/testserver/stop.sh     (or: start.sh stop)
#
# Printed on success (stdout, one line):
#   export CTIBROKER_TEST_MONGODB_URI='mongodb://127.0.0.1:PORT/' CTIBROKER_TEST_MONGODB_FLAVOR=ferretdb CTIBROKER_TEST_MONGODB_STATE='DIR'
# Build output and errors go to stderr; exit status is non-zero when the server does
# not come up (its log is copied to stderr then). The server's log stays in
# $CTIBROKER_TEST_MONGODB_STATE/ferretdb.log until stop.sh removes the directory.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [ "${1:-}" = "stop" ]; then
	# start.sh stop [DIR] is stop.sh [DIR].
	shift
	exec bash "$here/stop.sh" "$@"
fi
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
state=$(mktemp -d "${TMPDIR:-/tmp}/ctibroker-testserver.XXXXXX")

if ! (cd "$here" && go build -o "$state/testserver" .) >&2; then
	echo "start.sh: building the test server failed" >&2
	rm -rf "$state"
	exit 1
fi

"$state/testserver" -listen 127.0.0.1:0 -dir "$state/data" -log "$state/ferretdb.log" \
	>"$state/uri" 2>"$state/stderr" </dev/null &
pid=$!
echo "$pid" >"$state/pid"

# The server prints its URI only after it answered a ping.
for _ in $(seq 1 600); do
	if [ -s "$state/uri" ]; then
		break
	fi
	if ! kill -0 "$pid" 2>/dev/null; then
		echo "start.sh: the test server exited before listening:" >&2
		cat "$state/stderr" "$state/ferretdb.log" >&2 2>/dev/null || true
		rm -rf "$state"
		exit 1
	fi
	sleep 0.1
done
if [ ! -s "$state/uri" ]; then
	echo "start.sh: the test server did not answer within 60 s" >&2
	kill -TERM "$pid" 2>/dev/null || true
	cat "$state/stderr" >&2 || true
	exit 1
fi
uri=$(head -n 1 "$state/uri")
echo "export CTIBROKER_TEST_MONGODB_URI='$uri' CTIBROKER_TEST_MONGODB_FLAVOR=ferretdb CTIBROKER_TEST_MONGODB_STATE='$state'"
