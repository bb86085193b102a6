#!/usr/bin/env bash
# Builds fetch_all.c with plain cc and runs it twice against a local HTTP server: as it is, then under
# gevent-run. Needs scripts/build-preload.sh to have been run.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$here/../.."
run="$root/.build-preload/release/gevent-run"
[[ -x "$run" ]] || { echo "build gevent-run first: scripts/build-preload.sh" >&2; exit 1; }
work="$(mktemp -d)"
# http.server's default listen backlog (5) would drop simultaneous connects: raise it.
(cd "$here" && exec python3 -c 'import http.server as h; h.ThreadingHTTPServer.request_queue_size = 128
h.test(HandlerClass=h.SimpleHTTPRequestHandler, ServerClass=h.ThreadingHTTPServer, port=8765, bind="127.0.0.1")') \
    >/dev/null 2>&1 &
server=$!
trap 'kill $server; rm -rf "$work"' EXIT
cc -O2 -o "$work/fetch_all" "$here/fetch_all.c"
sleep 0.5
"$work/fetch_all" 127.0.0.1 8765 10
"$run" -- "$work/fetch_all" 127.0.0.1 8765 10
