// swift-gevent example: libpq, a C library that knows nothing of greenlets, made cooperative by
// Monkey.patchAll(). Fifty greenlets each open a connection and run a blocking PQexec of a query that
// takes 200 ms on the server; together they take about as long as one.
//
//   scripts/test-services.sh start       # a PostgreSQL on 127.0.0.1:54329 (or set PG* variables)
//   swift run LibpqExample [CONNINFO]
import CLibpq
import Gevent

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

Monkey.patchAll()

let connectionInfo =
    CommandLine.arguments.count > 1
    ? CommandLine.arguments[1] : "host=127.0.0.1 port=54329 user=postgres dbname=postgres connect_timeout=5"

/// One unaware query: blocking libpq calls, from a greenlet.
func slowQuery(_ index: Int) -> String {
    let connection = PQconnectdb(connectionInfo)
    defer { PQfinish(connection) }
    guard PQstatus(connection) == CONNECTION_OK else {
        return "connection failed: " + String(cString: PQerrorMessage(connection))
    }
    let result = PQexec(connection, "SELECT pg_sleep(0.2), \(index) * \(index)")
    defer { PQclear(result) }
    guard PQresultStatus(result) == PGRES_TUPLES_OK else {
        return "query failed: " + String(cString: PQerrorMessage(connection))
    }
    return String(cString: PQgetvalue(result, 0, 1))
}

let start = ContinuousClock.now
let queries = (0..<50).map { index in spawn { slowQuery(index) } }
try joinAll(queries)
let elapsed = ContinuousClock.now - start
let failures = queries.compactMap(\.value).filter { $0.contains("failed") }
if let first = failures.first {
    print("\(failures.count) of 50 queries failed; the first: \(first)")
    exit(1)
}
print("50 queries of 200 ms each took \(elapsed) (one after another: 10 seconds)")
