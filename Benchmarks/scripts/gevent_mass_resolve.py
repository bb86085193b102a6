# gevent side of dns_mass_resolve.sh: resolve COUNT generated names with a Pool of CONCURRENCY greenlets.
#   python gevent_mass_resolve.py COUNT CONCURRENCY   (GEVENT_RESOLVER=thread|ares chooses the resolver)
import sys, time
from gevent import monkey
monkey.patch_all()
import gevent, socket
from gevent.pool import Pool
count = int(sys.argv[1]); conc = int(sys.argv[2])
names = [f"host-{i}.gevent.test" for i in range(count)]
ok = 0; fail = 0
def job(n):
    global ok, fail
    try:
        socket.getaddrinfo(n, None, socket.AF_INET, socket.SOCK_STREAM); ok += 1
    except Exception as e:
        fail += 1
pool = Pool(conc)
t = time.perf_counter()
for n in names: pool.spawn(job, n)
pool.join()
dt = time.perf_counter() - t
print(f"gevent resolver={gevent.get_hub().resolver.__class__.__module__} names={count} resolved={ok} failed={fail} seconds={dt:.4f} per_second={int(count/dt)}")
