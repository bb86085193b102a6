# CPython's ThreadingHTTPServer, unmodified, with a handler that sleeps: a thread per request. Prints the
# port, serves until it has answered REQUESTS requests, then prints how many OS threads the process had at
# its busiest (/proc/self/status, sampled by each handler while it sleeps) and exits.
import http.server
import sys
import threading
import time

from os_threads import os_threads

requests_expected = int(sys.argv[1])
answered = 0
most_threads = 0
lock = threading.Lock()



class SleepyHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        global answered, most_threads
        time.sleep(0.3)
        threads = os_threads()
        body = ("slept for %s\n" % self.path).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        with lock:
            answered += 1
            most_threads = max(most_threads, threads)
            if answered == requests_expected:
                threading.Thread(target=self.server.shutdown).start()

    def log_message(self, format, *args):
        pass


class Server(http.server.ThreadingHTTPServer):
    request_queue_size = 1024  # the listen backlog: every client connects at once


server = Server(("127.0.0.1", 0), SleepyHandler)
print("port", server.server_address[1], flush=True)
server.serve_forever(poll_interval=0.05)
print("answered %d requests; most OS threads while serving: %d" % (answered, most_threads), flush=True)
