#!/usr/bin/env bash
# The HTTP benchmark: Examples/HTTPHello (GeventHTTP's HTTPServer) against the C epoll server's HTTP
# mode, SwiftNIO's NIOHTTP1 on one EventLoop, Go's net/http with GOMAXPROCS=1 and gevent's pywsgi, in one
# run, with the harness of ../shared/bench (wrk, one thread, GET / keep-alive, servers pinned to CPU 0,
# wrk to CPU 1). Rounds are interleaved as in run-echo.sh; prints each round's rows, then requests per
# server CPU-second (ours ÷ peer): the median over the rounds with the lowest and highest, and our p99.
#
#   Benchmarks/run-http.sh               # 100 and 1000 connections, 3 rounds (~5 min once built)
#   ROUNDS=5 Benchmarks/run-http.sh 100  # only 100, five rounds
#   Benchmarks/run-http.sh -o FILE.md 100 1000
#
# Environment: ROUNDS (3); BENCH, BENCH_BUILD, BENCH_VENV, SKIP_SETUP as for run-core.sh; the harness's
# DURATION, WARMUP, SERVER_CPU, LOAD_CPU.
set -uo pipefail

SCRIPT=run-http.sh
# shellcheck source=lib/peers.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/peers.sh"
round_arguments "${BASH_SOURCE[0]}" 10 100 1000 -- "$@"
command -v wrk >/dev/null || die "wrk not found (apt-get install wrk, or ../shared/bench/setup.sh)"
peer_benchmark http rps HTTPHello "--port {port}" "HTTP, wrk GET / keep-alive, HTTPHello" "wrk (one thread)" \
    "Requests" "≥ 0.6× C epoll, ≥ 1.3× NIO, ≥ 1.3× Go net/http, ≥ 8× gevent's pywsgi"
