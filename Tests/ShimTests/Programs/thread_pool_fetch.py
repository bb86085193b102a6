# A ThreadPoolExecutor of urllib fetches, as a Python program would write it: COUNT GETs of
# http://127.0.0.1:PORT/N through WORKERS threads, each body checked. Prints how many were right, and on
# stderr the most OS threads the process had while fetching and how long it took.
import concurrent.futures
import sys
import threading
import time
import urllib.request

from os_threads import os_threads

port, count, workers = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
most_threads = 0
lock = threading.Lock()



def fetch(index):
    global most_threads
    with urllib.request.urlopen("http://127.0.0.1:%d/%d" % (port, index), timeout=60) as reply:
        body = reply.read()
    with lock:
        most_threads = max(most_threads, os_threads())
    return reply.status == 200 and body == b"slept for /%d\n" % index


started = time.monotonic()
with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
    correct = sum(pool.map(fetch, range(count)))
print("%d of %d fetches correct" % (correct, count))
print("most OS threads while fetching: %d" % most_threads, file=sys.stderr)
print("seconds: %.2f" % (time.monotonic() - started), file=sys.stderr)
