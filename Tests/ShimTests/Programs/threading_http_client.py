# Opens CONNECTIONS connections to 127.0.0.1:PORT at once, sends one GET /N on each, and checks each
# reply; one thread, a selector. Run plain (never preloaded). With PROXY_PORT and PROXY_PID, the requests
# go through the HTTP proxy on 127.0.0.1:PROXY_PORT, and the most OS threads the proxy process had while
# they were in flight goes to stderr.
import selectors
import socket
import sys
import time

from os_threads import os_threads

port, count = int(sys.argv[1]), int(sys.argv[2])
proxy_port, proxy_pid = (int(sys.argv[3]), int(sys.argv[4])) if len(sys.argv) > 4 else (None, None)
most_proxy_threads = 0


def sample_proxy_threads():
    global most_proxy_threads
    most_proxy_threads = max(most_proxy_threads, os_threads(proxy_pid))


started = time.monotonic()
selector = selectors.DefaultSelector()
for index in range(count):
    if proxy_port is None:
        connection = socket.create_connection(("127.0.0.1", port))
        connection.sendall(b"GET /%d HTTP/1.0\r\n\r\n" % index)
    else:
        connection = socket.create_connection(("127.0.0.1", proxy_port))
        connection.sendall(b"GET http://127.0.0.1:%d/%d HTTP/1.0\r\n\r\n" % (port, index))
    connection.setblocking(False)
    selector.register(connection, selectors.EVENT_READ, [index, b""])
finished = correct = 0
while finished < count:
    if proxy_pid is not None:
        sample_proxy_threads()
    ready = selector.select(30)
    if not ready:
        sys.exit("no reply for 30 s with %d connections waiting" % (count - finished))
    for key, _ in ready:
        data = key.fileobj.recv(65536)
        if data:
            key.data[1] += data
            continue
        index, reply = key.data
        status_line = reply.split(b"\r\n", 1)[0]
        correct += b" 200 " in status_line and reply.endswith(b"slept for /%d\n" % index)
        selector.unregister(key.fileobj)
        key.fileobj.close()
        finished += 1
print("%d of %d replies correct" % (correct, count))
print("seconds: %.2f" % (time.monotonic() - started), file=sys.stderr)
if proxy_pid is not None:
    print("most proxy OS threads: %d" % most_proxy_threads, file=sys.stderr)
