# swift-gevent preload tests: pycares (its own bundled c-ares) making a channel and resolving numeric
# names, which needs neither /etc/hosts nor a DNS server. Same output with and without gevent-run.
import socket

import pycares

channel = pycares.Channel(lookups="f", timeout=2.0, tries=1)
results = []


def addresses(result, error):
    results.append(("getaddrinfo", error, sorted({node.addr[0] for node in result.nodes}) if result else None))


def name(result, error):
    results.append(("getnameinfo", error, (result.node, result.service) if result else None))


channel.getaddrinfo("127.0.0.1", "80", family=socket.AF_INET, callback=addresses)
channel.getnameinfo(("127.0.0.1", 80), pycares.ARES_NI_NUMERICHOST | pycares.ARES_NI_NUMERICSERV, callback=name)
channel.wait()
print("c-ares", pycares.ARES_VERSION)
for line in sorted(results):
    print(*line)
