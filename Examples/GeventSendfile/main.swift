// gevent's geventsendfile.py: an HTTP server that sends a file's bytes with sendfile(2), which copies from
// the file to the socket inside the kernel; `Socket.sendfile` waits on the hub whenever the socket's
// buffer is full, so one slow client does not hold up the others. It serves FILE to every request; with
// --once it ends after the first.
//
//     swift run GeventSendfile Package.swift 8000 &
//     curl http://127.0.0.1:8000/
import Gevent

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

let arguments = Array(CommandLine.arguments.dropFirst())
guard arguments.count == 2 || (arguments.count == 3 && arguments[2] == "--once"),
    let port = Int(arguments[1]), (0...65535).contains(port)
else {
    print("usage: GeventSendfile FILE PORT [--once]   (listens on 127.0.0.1:PORT; 0 picks a free port)")
    exit(2)
}
let path = arguments[0]
let file = open(path, O_RDONLY | O_CLOEXEC)
var status = stat()
guard file >= 0, fstat(file, &status) == 0, (status.st_mode & S_IFMT) == S_IFREG else {
    print("\(path): not a readable regular file")
    exit(1)
}
let size = Int(status.st_size)

let served = Event()
let server = try StreamServer(listener: "127.0.0.1:\(port)") { client, peer in
    let reader = client.makeReader()
    while try !reader.readLine(maxLength: 8192).allSatisfy({ $0 == 13 || $0 == 10 }) {}  // the request
    try client.sendAll(
        Array(
            "HTTP/1.1 200 OK\r\nContent-Length: \(size)\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n"
                .utf8
        )
    )
    let sent = try client.sendfile(FileDescriptor(file), offset: 0, count: size)
    print("\(peer): sent \(sent) bytes of \(path)")
    served.set()
}
try server.start()
print("serving \(path) (\(size) bytes) on http://\(server.address)/")
if arguments.count == 3 {
    try served.wait()
    try server.stop()
} else {
    try server.serveForever()
}
