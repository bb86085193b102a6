// swift-gevent example: an integration-test harness. It drives N clients written as plain blocking code
// (socket, connect, write, read: here in Swift, through libc, exactly what a C client library does)
// concurrently from greenlets against a server under test, and prints latency percentiles. With
// Monkey.patchAll() the blocking calls wait on the hub, so one thread holds all the clients.
//
//   swift run LoadHarness --port 8000 --clients 50 --requests 20
import ArgumentParser
import Gevent

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

@main
struct LoadHarness: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Drive N blocking HTTP/1.0 clients concurrently from greenlets and print latency percentiles."
    )

    @Option(help: "Server address (IPv4).") var host = "127.0.0.1"
    @Option(help: "Server port.") var port: UInt16 = 8000
    @Option(help: "Path to request.") var path = "/"
    @Option(help: "Concurrent clients (greenlets).") var clients = 50
    @Option(help: "Requests per client.") var requests = 20

    func run() throws {
        Monkey.patchAll()
        let start = ContinuousClock.now
        let workers = (0..<clients).map { _ in
            spawn { () -> [Double] in
                (0..<requests).map { _ in timedRequest() }
            }
        }
        try joinAll(workers)
        let wall = ContinuousClock.now - start
        let latencies = workers.flatMap { $0.value ?? [] }
        let failed = latencies.filter { $0 < 0 }.count
        let sorted = latencies.filter { $0 >= 0 }.sorted()
        guard !sorted.isEmpty else {
            print("all \(latencies.count) requests failed (is a server listening on \(host):\(port)?)")
            throw ExitCode.failure
        }
        func percentile(_ p: Double) -> Double {
            sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]
        }
        let seconds = Double(wall.components.seconds) + Double(wall.components.attoseconds) / 1e18
        print("\(sorted.count) requests (\(failed) failed) from \(clients) clients in \(wall)")
        print("throughput \(Int(Double(sorted.count) / seconds)) requests/s")
        let line = [0.5, 0.9, 0.99].map { "p\(Int($0 * 100)) \(format(percentile($0))) ms" }.joined(separator: ", ")
        print("latency \(line), max \(format(sorted.last!)) ms")
    }

    /// One request with plain blocking calls; its latency in milliseconds, or -1 on failure.
    func timedRequest() -> Double {
        let start = ContinuousClock.now
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return -1 }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        inet_pton(AF_INET, host, &address.sin_addr)
        let connected = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
        guard connected else { return -1 }
        var request = "GET \(path) HTTP/1.0\r\nHost: \(host)\r\n\r\n"
        let sent = request.withUTF8 { write(fd, $0.baseAddress, $0.count) }
        guard sent > 0 else { return -1 }
        var buffer = [UInt8](repeating: 0, count: 16384)
        while true {
            let n = read(fd, &buffer, buffer.count)
            if n == 0 { break }
            if n < 0 { return -1 }
        }
        let elapsed = ContinuousClock.now - start
        return Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
    }

    /// Milliseconds with one decimal.
    func format(_ milliseconds: Double) -> String {
        "\((milliseconds * 10).rounded() / 10)"
    }
}
