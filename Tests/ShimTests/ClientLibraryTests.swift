import CHiredis
import CLibpq
import Testing

@testable import Gevent

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// Real, unaware C client libraries against real servers on 127.0.0.1 (scripts/test-services.sh, which
/// these tests run themselves: a server that cannot be started fails the test with the script's message).
extension MonkeyTests {
    @Test func fiftyLibpqQueriesRunConcurrentlyFromGreenlets() throws {
        let services = try TestServices.start()
        let connection = "host=127.0.0.1 port=\(services.postgresPort) user=postgres dbname=postgres connect_timeout=10"
        try withPatchedHub { _ in
            let start = ContinuousClock.now
            let queries = (0..<50).map { _ in
                spawn { () -> String in
                    let connection = PQconnectdb(connection)
                    defer { PQfinish(connection) }
                    guard PQstatus(connection) == CONNECTION_OK else {
                        return "connect: " + String(cString: PQerrorMessage(connection))
                    }
                    let result = PQexec(connection, "SELECT pg_sleep(0.2), 42")
                    defer { PQclear(result) }
                    guard PQresultStatus(result) == PGRES_TUPLES_OK else {
                        return "query: " + String(cString: PQerrorMessage(connection))
                    }
                    return String(cString: PQgetvalue(result, 0, 1))
                }
            }
            try joinAll(queries)
            let elapsed = millisecondsSince(start)
            for query in queries {
                #expect(query.value == "42")
            }
            #expect(elapsed >= 190)
            #expect(elapsed < 50 * 200 / 4, "50 pg_sleep(0.2) queries through blocking PQexec were not concurrent")
            print("libpq: 50 x SELECT pg_sleep(0.2) from greenlets took \(Int(elapsed)) ms (sequential: 10000 ms)")
        }
    }

    @Test func fiftyHiredisCommandsRunConcurrentlyFromGreenlets() throws {
        let services = try TestServices.start()
        try withPatchedHub { _ in
            let start = ContinuousClock.now
            let commands = (0..<50).map { index in
                spawn { () -> String in
                    guard let context = redisConnect("127.0.0.1", services.redisPort) else { return "no context" }
                    defer { redisFree(context) }
                    guard context.pointee.err == 0 else { return "connect: \(context.pointee.err)" }
                    // BLPOP on an empty list waits on the server for its timeout, then answers nil.
                    guard let reply = gevent_redis_command(context, "BLPOP gevent:shim:test:\(index) 0.2") else {
                        return "command: \(context.pointee.err)"
                    }
                    defer { freeReplyObject(reply) }
                    return reply.pointee.type == REDIS_REPLY_NIL ? "nil" : "type \(reply.pointee.type)"
                }
            }
            try joinAll(commands)
            let elapsed = millisecondsSince(start)
            for command in commands {
                #expect(command.value == "nil")
            }
            #expect(elapsed >= 190)
            #expect(elapsed < 50 * 200 / 4, "50 BLPOP 0.2 through blocking hiredis calls were not concurrent")
            print("hiredis: 50 x BLPOP 0.2 from greenlets took \(Int(elapsed)) ms (sequential: 10000 ms)")
        }
    }
}

extension PreloadTests {
    @Test func psqlAndRedisCliBehaveAsWithoutIt() throws {
        guard let geventRun = geventRunNextToLibrary() else { return }
        let services = try TestServices.start()
        let commands = [
            ["psql", "-h", "127.0.0.1", "-p", "\(services.postgresPort)", "-U", "postgres", "-tAc", "SELECT 6 * 7"],
            ["redis-cli", "-h", "127.0.0.1", "-p", "\(services.redisPort)", "ECHO", "through the shim"],
        ]
        for command in commands {
            let plain = try runProcess(command)
            let preloaded = try runProcess([geventRun, "--"] + command)
            #expect(plain.status == 0, "\(command[0]): \(plain.standardError)")
            #expect(preloaded.status == plain.status)
            #expect(preloaded.standardOutput == plain.standardOutput)
        }
    }
}

/// The servers of scripts/test-services.sh.
struct TestServices {
    let postgresPort: Int32
    let redisPort: Int32

    /// Starts them (or finds them running) and reads their settings; throws with the script's own message.
    static func start() throws -> TestServices {
        let script = packageRoot + "/scripts/test-services.sh"
        let started = try runProcess([script, "start"])
        guard started.status == 0 else {
            throw ServiceError(
                description: "scripts/test-services.sh start failed (PostgreSQL and Redis are needed; "
                    + "scripts/install-deps.sh --tests installs them): \(started.standardError)"
            )
        }
        var settings: [String: String] = [:]
        for line in try runProcess([script, "env"]).standardOutput.split(separator: "\n") {
            let parts = line.split(separator: "=", maxSplits: 1)
            if parts.count == 2 {
                settings[String(parts[0])] = String(parts[1])
            }
        }
        guard let postgres = settings["PGPORT"].flatMap({ Int32($0) }),
            let redis = settings["REDIS_PORT"].flatMap({ Int32($0) })
        else {
            throw ServiceError(description: "scripts/test-services.sh env did not print PGPORT and REDIS_PORT")
        }
        return TestServices(postgresPort: postgres, redisPort: redis)
    }
}

struct ServiceError: Error, CustomStringConvertible {
    let description: String
}
