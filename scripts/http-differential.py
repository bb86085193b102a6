#!/usr/bin/env python3
"""Differential test of GeventHTTPParser against h11 (PyPI), the strict sans-I/O Python parser.

Every input is read by both (our side through Tests/HTTPParseProbe). They must agree: both accept with
the same method, target, fields and body, or both reject, or both need more bytes. Where RFC 9112 lets a
server choose and we chose to reject (bare LF line ends, obs-fold, Content-Length with
Transfer-Encoding, target forms, Host syntax) and h11 accepts, the case is counted as "stricter" and
allowed only for those rules; accepting what h11 rejects, or reading a request differently, fails.

    scripts/http-differential.py PROBE [CORPUS_DIR ...]     (h11 importable: see scripts/fuzz-http.sh)
    scripts/http-differential.py --write-seeds DIR         (the seeds as files, to start a fuzz corpus)
"""
import os
import subprocess
import sys
import tempfile

h11 = None  # imported in main, so --write-seeds works without it

# Rules where we reject and h11, more lenient by design, may accept.
STRICTER_KINDS = {"invalidLineEnding", "malformedField", "invalidFraming", "invalidTarget", "invalidHost",
                  "malformedRequestLine", "malformedChunk", "unsupportedVersion", "invalidContentLength"}

H = b"Host: h\r\n"
SEEDS = [
    # Valid requests.
    b"GET / HTTP/1.1\r\n" + H + b"\r\n",
    b"GET /a/b?c=d&e HTTP/1.1\r\n" + H + b"User-Agent: x\r\nAccept: */*\r\n\r\n",
    b"POST /echo HTTP/1.1\r\n" + H + b"Content-Length: 5\r\n\r\nhello",
    b"PUT /x HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    b"POST /x HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n5;a=b;c=\"d\"\r\nhello\r\n0\r\nX: y\r\n\r\n",
    b"POST /x HTTP/1.1\r\n" + H + b"Transfer-Encoding: Chunked\r\n\r\n1\r\na\r\n0\r\n\r\n",
    b"GET / HTTP/1.0\r\n\r\n",
    b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
    b"GET http://example.com/x HTTP/1.1\r\nHost: example.com\r\n\r\n",
    b"OPTIONS * HTTP/1.1\r\n" + H + b"\r\n",
    b"GET / HTTP/1.1\r\n" + H + b"X-Empty:\r\nX-Spaces:   a b   \r\n\r\n",
    b"GET / HTTP/1.1\r\n" + H + b"X-Obs: caf\xe9\r\n\r\n",
    b"\r\nGET / HTTP/1.1\r\n" + H + b"\r\n",
    b"\r", b"\r\n\r",  # the start of an empty line: wait for the rest
    b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 007\r\n\r\n1234567",
    b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 0\r\n\r\n",
    b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 3\r\nContent-Length: 3\r\n\r\nabc",
    b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 3, 3\r\n\r\nabc",
    b"POST / HTTP/1.1\r\n" + H + b"Expect: 100-continue\r\nContent-Length: 2\r\n\r\nab",
    # 1. Framing conflicts.
    b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n",
    b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
    b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 3, 4\r\n\r\nabcd",
    b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n",
    b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: identity, chunked\r\n\r\n0\r\n\r\n",
    b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
    b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding:  chunked \r\n\r\n0\r\n\r\n",
    b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n",
    b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\x0b\r\n\r\n0\r\n\r\n",
    b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    # 2. Numbers.
    *[b"POST / HTTP/1.1\r\n" + H + b"Content-Length: " + v + b"\r\n\r\nabcde"
      for v in [b"+5", b"-1", b"0x10", b"1_0", b"", b"5 5", b"99999999999999999999", b"1e1"]],
    *[b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n" + v + b"\r\nabcdefghijklmnopq\r\n0\r\n\r\n"
      for v in [b"0x1", b"1_0", b" 1", b"1 ", b"12345678901234567", b"Z", b"-1", b"11\t;x", b"11 ;x", b"11;x ;y"]],
    # 3. Line endings and whitespace.
    b"GET / HTTP/1.1\r\n" + H + b"X: \rTransfer-Encoding: chunked\r\n\r\n",
    b"GET / HTTP/1.1\n" + H + b"\r\n",
    b"GET / HTTP/1.1\r\nHost: h\n\n",
    b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n",
    b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n5;a=\rb\r\nhello\r\n0\r\n\r\n",
    b"GET / HTTP/1.1\r\n" + H + b"X: a\r\n b\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost : h\r\n\r\n",
    b"GET / HTTP/1.1\r\n Host: h\r\n\r\n",
    b"GET / HTTP/1.1\r\n" + H + b"N\x00me: v\r\n\r\n",
    b"GET / HTTP/1.1\r\n" + H + b"N\x7fme: v\r\n\r\n",
    b"GET / HTTP/1.1\r\n" + H + b"N\xe4me: v\r\n\r\n",
    b"GET / HTTP/1.1\r\n" + H + b"X: a\x00b\r\n\r\n",
    b"GET / HTTP/1.1\r\n" + H + b": empty\r\n\r\n",
    b"GET / HTTP/1.1\r\n" + H + b"NoColon\r\n\r\n",
    # 4. Request line.
    b"GET / HTTP/1.32\r\n" + H + b"\r\n",
    b"GET / HTTP/1.1 junk\r\n" + H + b"\r\n",
    b"GET / HTTP/1.1x\r\n" + H + b"\r\n",
    b"G(T / HTTP/1.1\r\n" + H + b"\r\n",
    b"GET ! HTTP/1.1\r\n" + H + b"\r\n",
    b"GET\n/ HTTP/1.1\r\n" + H + b"\r\n",
    b"GET /\r\n\r\n",
    b"GET / HTTP/2.0\r\n" + H + b"\r\n",
    b"GET  / HTTP/1.1\r\n" + H + b"\r\n",
    b"GET / HTTP/1.1\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
    b"CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n",
    b"GET h:443 HTTP/1.1\r\n" + H + b"\r\n",
    # 5. Chunked bodies.
    b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n3\r\nabcd\r\n0\r\n\r\n",
    b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n3\r\nabc0\r\n\r\n",
    b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nContent-Length: 5\r\n\r\n",
    b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n3;" + b"x" * 200 + b"\r\nabc\r\n0\r\n\r\n",
    b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n",
    b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX : y\r\n\r\n",
    # 6. Connection state (one message boundary each).
    b"GET /1 HTTP/1.1\r\n" + H + b"\r\nGET /2 HTTP/1.1\r\n" + H + b"\r\n",
    b"GET / HTTP/1.1\r\n" + H + b"Connection: close\r\n\r\n",
    b"GET /ws HTTP/1.1\r\n" + H + b"Connection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
    b"HEAD / HTTP/1.1\r\n" + H + b"\r\n",
]


def strip_leading_empty_lines(data):
    while data.startswith(b"\r\n"):
        data = data[2:]
    return data


def h11_interpret(data):
    if not data:
        return ("incomplete",)  # h11 takes empty data as the end of the stream
    connection = h11.Connection(h11.SERVER)
    connection.receive_data(data)
    try:
        event = connection.next_event()
        if event is h11.NEED_DATA:
            return ("incomplete",)
        if not isinstance(event, h11.Request):
            return ("reject", type(event).__name__)
        body = b""
        if event.method != b"CONNECT" and not (event.headers and _is_upgrade(event)):
            while True:
                nxt = connection.next_event()
                if nxt is h11.NEED_DATA:
                    return ("incomplete",)
                if isinstance(nxt, h11.Data):
                    body += nxt.data
                elif isinstance(nxt, h11.EndOfMessage):
                    break
                elif nxt is h11.PAUSED:
                    break
        fields = [(name.lower(), value) for name, value in event.headers]
        return ("accept", event.method, event.target, body, normalize(fields))
    except h11.RemoteProtocolError as error:
        return ("reject", str(error))


def _is_upgrade(event):
    names = {name.lower(): value for name, value in event.headers}
    return b"upgrade" in names and b"upgrade" in names.get(b"connection", b"").lower()


def normalize(fields):
    """h11 collapses identical Content-Length values and lowercases Transfer-Encoding; so do we, here."""
    result = []
    seen_length = False
    for name, value in fields:
        if name == b"content-length":
            value = value.split(b",")[0].strip()
            if seen_length:
                continue
            seen_length = True
        if name == b"transfer-encoding":
            value = value.lower()
        result.append((name, value))
    return result


def ours_interpret(line):
    parts = line.split(" ")
    if parts[0] != "accept":
        return tuple(parts)
    unhex = lambda text: b"" if text == "-" else bytes.fromhex(text)
    fields = [tuple(unhex(half) for half in item.split("=")) for item in parts[4:]]
    return ("accept", unhex(parts[1]), unhex(parts[2]), unhex(parts[3]), normalize(fields))


def main():
    if sys.argv[1] == "--write-seeds":
        os.makedirs(sys.argv[2], exist_ok=True)
        for index, seed in enumerate(SEEDS):
            with open(os.path.join(sys.argv[2], f"seed-{index:03}"), "wb") as handle:
                handle.write(seed)
        return 0
    global h11
    import h11
    probe = sys.argv[1]
    inputs = [(f"seed {index}", seed) for index, seed in enumerate(SEEDS)]
    for directory in sys.argv[2:]:
        for name in sorted(os.listdir(directory)):
            with open(os.path.join(directory, name), "rb") as handle:
                inputs.append((f"{directory}/{name}", handle.read()))
    with tempfile.TemporaryDirectory() as scratch:
        paths = []
        for index, (_, data) in enumerate(inputs):
            path = os.path.join(scratch, str(index))
            with open(path, "wb") as handle:
                handle.write(data)
            paths.append(path)
        lines = []
        for start in range(0, len(paths), 500):
            out = subprocess.run([probe, *paths[start:start + 500]], check=True, capture_output=True, text=True)
            lines += out.stdout.splitlines()
    counts = {"agree-accept": 0, "agree-reject": 0, "agree-incomplete": 0, "stricter": 0,
              "empty-lines-skipped": 0}
    failures = []
    stricter = {}
    for (label, data), line in zip(inputs, lines):
        ours = ours_interpret(line)
        theirs = h11_interpret(data)
        if ours[0] in ("accept", "incomplete") and theirs[0] == "reject" and data.startswith(b"\r"):
            # RFC 9112 section 2.2: a server SHOULD ignore empty lines before the request line; h11 does not.
            # A trailing lone CR may still become one of those lines, so waiting for more is right.
            rest = strip_leading_empty_lines(data)
            if (rest == b"\r" and ours == ("incomplete",)) or h11_interpret(rest)[1:] == ours[1:]:
                counts["empty-lines-skipped"] += 1
                continue
        if ours[0] == theirs[0] == "accept":
            if ours[1:] == theirs[1:]:
                counts["agree-accept"] += 1
            else:
                failures.append((label, data, "both accept, read differently", ours, theirs))
        elif ours[0] == theirs[0]:
            counts[f"agree-{ours[0]}"] += 1
        elif ours[0] == "reject" and (ours[1] in STRICTER_KINDS or theirs[0] == "incomplete"):
            # A rule RFC 9112 lets us enforce, or a broken line or limit we reject before h11 has seen enough.
            counts["stricter"] += 1
            stricter[ours[1]] = stricter.get(ours[1], 0) + 1
        else:
            failures.append((label, data, "disagree", ours, theirs))
    print(f"{len(inputs)} inputs: " + ", ".join(f"{key} {value}" for key, value in counts.items())
          + f", failures {len(failures)}")
    print("stricter than h11, by rule: " + ", ".join(f"{key} {value}" for key, value in sorted(stricter.items())))
    for label, data, why, ours, theirs in failures[:20]:
        print(f"FAIL {label}: {why}\n  input {data[:160]!r}\n  ours  {ours}\n  h11   {theirs}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
