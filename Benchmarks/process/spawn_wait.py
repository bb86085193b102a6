"""Python's subprocess (and gevent's, when importable) for the same two measurements as spawn_wait.c.

    python3 spawn_wait.py serial|children [N] [REPS] [stdlib|gevent]
"""
import sys
import time

mode = sys.argv[1] if len(sys.argv) > 1 else "serial"
children = mode == "children"
n = int(sys.argv[2]) if len(sys.argv) > 2 else (100 if children else 2000)
reps = int(sys.argv[3]) if len(sys.argv) > 3 else 3
flavour = sys.argv[4] if len(sys.argv) > 4 else "stdlib"

if flavour == "gevent":
    import gevent
    import gevent.subprocess as subprocess
else:
    import subprocess

results = []
for _ in range(reps):
    start = time.perf_counter_ns()
    if children:
        if flavour == "gevent":
            jobs = [gevent.spawn(subprocess.call, ["/bin/sleep", "0.2"]) for _ in range(n)]
            gevent.joinall(jobs, raise_error=True)
        else:
            processes = [subprocess.Popen(["/bin/sleep", "0.2"]) for _ in range(n)]
            for process in processes:
                process.wait()
        results.append((time.perf_counter_ns() - start) / 1e6)
    else:
        for _ in range(n):
            subprocess.run(["/bin/true"])
        results.append((time.perf_counter_ns() - start) / n)
results.sort()
impl = "python.gevent.subprocess" if flavour == "gevent" else "python.subprocess"
if children:
    print(f"bench=children_sleep_0.2 impl={impl} n={n} reps={reps} wall_ms={results[reps // 2]:.1f} wall_ms_min={results[0]:.1f}")
else:
    print(f"bench=spawn_wait_true impl={impl} n={n} reps={reps} ns_per_spawn={results[reps // 2]:.0f} ns_per_spawn_min={results[0]:.0f}")
