"""gevent's side of the coordination microbenchmarks that GeventMicro measures for swift-gevent.

    python gevent_micro.py pingpong [ROUND_TRIPS=200000] [REPS=5]
        two greenlets hand control back and forth with gevent.sleep(0).
    python gevent_micro.py queue [ROUND_TRIPS=200000] [REPS=5]
        ping-pong between two greenlets over two gevent.queue.Queue objects.
    python gevent_micro.py channel [ROUND_TRIPS=200000] [REPS=5]
        the same over two gevent.queue.Channel objects (rendezvous).
    python gevent_micro.py tpapply [N=5000] [REPS=5]
        gevent.get_hub().threadpool.apply(f) N times in a row.
    python gevent_micro.py poolmap [N=100000] [REPS=5]
        gevent.pool.Pool(100).map(f, range(N)).

Each prints one "bench=... key=value" line in the format of ../shared/bench/micro (median and best of REPS).
Run it with the interpreter of ../shared/bench's venv (gevent and greenlet pinned there).
"""
import sys
import time

import gevent
import gevent.pool
import gevent.queue


def arg(i, default):
    return int(sys.argv[i]) if len(sys.argv) > i else default


def med(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2], xs[0]


def line(bench, impl, n, reps, unit, values):
    m, best = med(values)
    print(f"bench={bench} impl={impl} n={n} reps={reps} {unit}={m:.1f} {unit}_min={best:.1f}")


def bench_pingpong(n, reps):
    res = []
    for _ in range(reps):
        def player():
            for _ in range(n):
                gevent.sleep(0)
        a, b = gevent.spawn(player), gevent.spawn(player)
        t0 = time.perf_counter_ns()
        gevent.joinall([a, b])
        res.append((time.perf_counter_ns() - t0) / (2 * n))
    line("pingpong", f"gevent-{gevent.__version__}.sleep0", n, reps, "ns_per_switch", res)


def bench_queue(n, reps, kind):
    res = []
    for _ in range(reps):
        make = gevent.queue.Channel if kind == "channel" else gevent.queue.Queue
        ping, pong = make(), make()

        def first():
            for i in range(n):
                ping.put(i)
                pong.get()

        def second():
            for _ in range(n):
                pong.put(ping.get())

        a, b = gevent.spawn(first), gevent.spawn(second)
        t0 = time.perf_counter_ns()
        gevent.joinall([a, b], raise_error=True)
        res.append((time.perf_counter_ns() - t0) / (2 * n))
    line("queue_pingpong", f"gevent-{gevent.__version__}.{kind}", n, reps, "ns_per_switch", res)


def bench_tpapply(n, reps):
    pool = gevent.get_hub().threadpool
    pool.apply(int)  # the first worker exists before the clock starts
    res = []
    for _ in range(reps):
        t0 = time.perf_counter_ns()
        for i in range(n):
            pool.apply(abs, (i,))
        res.append((time.perf_counter_ns() - t0) / n)
    line("threadpool_apply", f"gevent-{gevent.__version__}", n, reps, "ns_per_call", res)


def bench_poolmap(n, reps):
    res = []
    for _ in range(reps):
        pool = gevent.pool.Pool(100)
        t0 = time.perf_counter_ns()
        out = pool.map(lambda x: x + 1, range(n))
        res.append((time.perf_counter_ns() - t0) / n)
        assert len(out) == n and out[-1] == n
    line("pool_map", f"gevent-{gevent.__version__}.pool100", n, reps, "ns_per_item", res)


def main():
    mode = sys.argv[1] if len(sys.argv) > 1 else ""
    if mode == "pingpong":
        bench_pingpong(arg(2, 200_000), arg(3, 5))
    elif mode in ("queue", "channel"):
        bench_queue(arg(2, 200_000), arg(3, 5), mode)
    elif mode == "tpapply":
        bench_tpapply(arg(2, 5_000), arg(3, 5))
    elif mode == "poolmap":
        bench_poolmap(arg(2, 100_000), arg(3, 5))
    else:
        sys.stderr.write(__doc__)
        sys.exit(2)


if __name__ == "__main__":
    main()
