#!/usr/bin/env bash
# The echo benchmark: swift-gevent's EchoServer against the C epoll server, SwiftNIO on one
# EventLoop, Go with GOMAXPROCS=1 and gevent, in one run, with the harness of ../shared/bench (64-byte
# ping-pong, servers pinned to CPU 0, load generator to CPU 1). Every case runs ROUNDS times (default 3),
# interleaved: each round runs every server at every connection count once, so a burst of other work on
# the machine hits one round of every server rather than every round of one. Prints the harness's rows
# per round, then the ratios of round trips per server CPU-second (ours ÷ peer): the median over the
# rounds with the lowest and highest, so that one noisy run cannot decide.
#
#   Benchmarks/run-echo.sh               # 1, 100 and 1000 connections, 3 rounds (~7 min once built)
#   ROUNDS=5 Benchmarks/run-echo.sh 100  # only 100, five rounds
#   Benchmarks/run-echo.sh 100           # only 100
#   Benchmarks/run-echo.sh -o FILE.md 1 100 1000
#
# Environment: ROUNDS (3); BENCH, BENCH_BUILD, BENCH_VENV, SKIP_SETUP as for run-core.sh; the harness's
# DURATION, WARMUP, SIZE, SERVER_CPU, LOAD_CPU, BUSY_POLL.
set -uo pipefail

SCRIPT=run-echo.sh
# shellcheck source=lib/peers.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/peers.sh"
round_arguments "${BASH_SOURCE[0]}" 12 1 100 1000 -- "$@"
peer_benchmark echo rt_per_s EchoServer "{port}" "Echo, ${SIZE}-byte ping-pong" "load generator" \
    "Round trips" "≥ 0.9× C epoll, ≥ 1.3× NIO, ≥ 1.2× Go, ≥ 2.5× gevent"
