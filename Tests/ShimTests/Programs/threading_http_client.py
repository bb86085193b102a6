# Opens CONNECTIONS connections to 127.0.0.1:PORT at once, sends one GET /N on each, and checks each
# reply; one thread, a selector. Run plain (never preloaded).
import selectors
import socket
import sys
import time

port, count = int(sys.argv[1]), int(sys.argv[2])
started = time.monotonic()
selector = selectors.DefaultSelector()
for index in range(count):
    connection = socket.create_connection(("127.0.0.1", port))
    connection.sendall(b"GET /%d HTTP/1.0\r\n\r\n" % index)
    connection.setblocking(False)
    selector.register(connection, selectors.EVENT_READ, [index, b""])
finished = correct = 0
while finished < count:
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
