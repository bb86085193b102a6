# swift-gevent preload tests: Python gevent on its default loop (its own bundled libev), greenlets
# sleeping and switching. Same output with and without gevent-run.
import gevent

order = []


def nap(name, seconds):
    gevent.sleep(seconds)
    order.append(name)


gevent.sleep(0.1)
gevent.joinall([gevent.spawn(nap, "slow", 0.05), gevent.spawn(nap, "fast", 0.01)])
print("loop", type(gevent.get_hub().loop).__module__)
print("order", order)
