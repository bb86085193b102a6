# subprocess from COUNT threads at once, as a Python program would write it: each thread runs a shell that
# prints N, closes its output and lives 300 ms more before it exits with N%7 (so subprocess.run's wait for
# the exit, not its reads, is what takes time), through subprocess.run and check_output, and checks the
# output and the exit code. Prints how many were right, and on stderr the most OS threads the process had meanwhile
# and how long it took.
import concurrent.futures
import subprocess
import sys
import threading
import time

from os_threads import os_threads

count = int(sys.argv[1])
most_threads = 0
lock = threading.Lock()


def run(index):
    global most_threads
    command = ["sh", "-c", "echo %d; exec >&- 2>&-; sleep 0.3; exit %d" % (index, index % 7)]
    completed = subprocess.run(command, capture_output=True, text=True)
    with lock:
        most_threads = max(most_threads, os_threads())
    right = completed.stdout == "%d\n" % index and completed.returncode == index % 7
    if index % 7 == 0:
        right = right and subprocess.check_output(["sh", "-c", "echo again %d" % index]) == b"again %d\n" % index
    return right


started = time.monotonic()
with concurrent.futures.ThreadPoolExecutor(max_workers=count) as pool:
    correct = sum(pool.map(run, range(count)))
print("%d of %d subprocesses right" % (correct, count))
print("most OS threads: %d" % most_threads, file=sys.stderr)
print("seconds: %.2f" % (time.monotonic() - started), file=sys.stderr)
