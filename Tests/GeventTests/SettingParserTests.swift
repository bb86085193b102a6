import Gevent
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The one parser of setting values: what it accepts and rejects, and what its errors say.
@Suite("SettingParser")
struct SettingParserTests {
    static let acceptedSizes: [(String, Int)] = [
        ("1048576", 1_048_576), ("16384", 16_384), ("512K", 524_288), ("512k", 524_288), ("1M", 1_048_576),
        ("1m", 1_048_576), ("1MiB", 1_048_576), ("1mib", 1_048_576), ("1MIB", 1_048_576), ("64KiB", 65_536),
        ("64kib", 65_536), ("2G", 2 << 30), ("2GiB", 2 << 30), (" 256K ", 262_144), ("\t1M", 1_048_576),
        ("0016K", 16_384),
    ]

    static let rejectedSizes = [
        "", " ", "abc", "K", "-5", "+5", "0", "1.5M", "1KB", "1MB", "1 M", "1e6", "1Mi", "1MiBs", "0x100",
        "１２３", "99999999999999999999", "9223372036854775807K", "8K", "16383",
    ]

    @Test(arguments: acceptedSizes)
    func sizesAreBytesOrPowersOf1024InAnyCase(text: String, bytes: Int) throws {
        #expect(try SettingParser.size(text, atLeast: Setting.minimumStackSize, for: "GEVENT_STACK_SIZE") == bytes)
    }

    @Test(arguments: rejectedSizes)
    func otherSizesAreRejectedWithTheFormsAccepted(text: String) {
        #expect(throws: SettingError.self) {
            try SettingParser.size(text, atLeast: Setting.minimumStackSize, for: "GEVENT_STACK_SIZE")
        }
    }

    @Test func aSizeErrorNamesTheVariableTheValueAndTheForms() {
        let error = #expect(throws: SettingError.self) {
            try SettingParser.size("1.5M", atLeast: 16 * 1024, for: "GEVENT_STACK_SIZE")
        }
        #expect(
            error?.description
                == "GEVENT_STACK_SIZE=1.5M is not a size of at least 16K: give bytes (262144) or a whole number "
                + "with K, M or G, or KiB, MiB, GiB, in any case (512K, 1m, 1MiB)"
        )
        let option = #expect(throws: SettingError.self) {
            try SettingParser.size("big", for: "--stack-size")
        }
        #expect(option?.description.hasPrefix("--stack-size big is not a size of at least 1:") == true)
    }

    static let acceptedDurations: [(String, Duration)] = [
        ("0.005", .milliseconds(5)), ("2", .seconds(2)), ("0.1", .milliseconds(100)), ("5ms", .milliseconds(5)),
        ("5MS", .milliseconds(5)), ("1.5s", .milliseconds(1500)), ("250us", .microseconds(250)),
        ("1000000ns", .milliseconds(1)), (" 3s ", .seconds(3)), ("10", .seconds(10)), ("0.001", .milliseconds(1)),
    ]

    static let rejectedDurations = [
        "", "s", "ms", "abc", "-1", "+1", "0", "0ms", ".5", "1.", "1..5", "1.2.3", "1e-3", "inf", "nan", "5 ms", "5m",
        "5min", "11", "10.5s", "1ns5", "100000000000000000000",
    ]

    @Test(arguments: acceptedDurations)
    func durationsAreSecondsOrCarryAUnit(text: String, duration: Duration) throws {
        let range: ClosedRange<Duration> = .nanoseconds(1) ... .seconds(10)
        #expect(try SettingParser.duration(text, in: range, for: "GEVENT_SWITCH_INTERVAL") == duration)
    }

    @Test(arguments: rejectedDurations)
    func otherDurationsAreRejected(text: String) {
        let range: ClosedRange<Duration> = .nanoseconds(1) ... .seconds(10)
        #expect(throws: SettingError.self) {
            try SettingParser.duration(text, in: range, for: "GEVENT_SWITCH_INTERVAL")
        }
    }

    @Test func aDurationErrorGivesTheRangeAndTheForms() {
        let error = #expect(throws: SettingError.self) {
            try SettingParser.duration(
                "0.0001",
                in: Setting.maxBlockingTime.durationRange!,
                for: "GEVENT_MAX_BLOCKING_TIME"
            )
        }
        #expect(
            error?.description
                == "GEVENT_MAX_BLOCKING_TIME=0.0001 is not a duration from 1ms to 3600s: give seconds (0.25) or a "
                + "number with s, ms, us or ns (250ms, 1.5s)"
        )
    }

    @Test func booleansCountsAndNames() throws {
        for text in ["1", "true", "YES", "On", " on "] {
            #expect(try SettingParser.boolean(text, for: "X") == true)
        }
        for text in ["0", "false", "No", "OFF"] {
            #expect(try SettingParser.boolean(text, for: "X") == false)
        }
        #expect(throws: SettingError.self) { try SettingParser.boolean("maybe", for: "X") }
        #expect(try SettingParser.count("12", atLeast: 1, for: "X") == 12)
        for text in ["0", "-1", "1.5", "+3", "", "ten"] {
            #expect(throws: SettingError.self) { try SettingParser.count(text, atLeast: 1, for: "X") }
        }
        #expect(try SettingParser.name("IO_URING", of: LoopBackend.self, for: "GEVENT_BACKEND") == .ioUring)
        let error = #expect(throws: SettingError.self) {
            try SettingParser.name("kqueue", of: LoopBackend.self, for: "GEVENT_BACKEND")
        }
        #expect(error?.description == "GEVENT_BACKEND=kqueue is not one of epoll, poll, select, io_uring or linuxaio")
    }

    @Test func theFirstKnownResolverOfAListWins() throws {
        #expect(try ResolverKind.parseList("dnspython,ares", for: "GEVENT_RESOLVER") == .ares)
        #expect(try ResolverKind.parseList(" Block ", for: "GEVENT_RESOLVER") == .block)
        #expect(throws: SettingError.self) { try ResolverKind.parseList("dnspython", for: "GEVENT_RESOLVER") }
    }

    @Test func areaListsHaveOneGrammarAndOneMessage() {
        #expect(MonkeyArea.parseList("all").areas == MonkeyArea.implemented)
        #expect(MonkeyArea.parseList("none").areas.isEmpty)
        #expect(MonkeyArea.parseList("none").unknown.isEmpty)
        #expect(MonkeyArea.parseList(" Socket ,dns,,socket").areas == [.socket, .dns])
        #expect(MonkeyArea.parseList("thread").areas == [.thread])
        let list = MonkeyArea.parseList("time,sockets")
        #expect(list.areas == [.time])
        #expect(list.unknown == ["sockets"])
        #expect(
            MonkeyArea.unknownAreaMessage("sockets", in: "GEVENT_PATCH")
                == "unknown area 'sockets' in GEVENT_PATCH; use all, none or a comma-separated list of socket, dns, "
                + "time, select, thread, subprocess (-name removes one: all,-dns)"
        )
        #expect(Monkey.Area.self == MonkeyArea.self)
    }

    /// gevent's `patch_all(dns=False)`: a removal takes an area away from what the items before it gave.
    @Test func aDashRemovesAnAreaFromWhatCameBefore() {
        #expect(MonkeyArea.parseList("all,-dns").areas == [.socket, .time, .select, .subprocess])
        #expect(
            MonkeyArea.parseList("-dns").areas == [.socket, .time, .select, .subprocess],
            "a leading removal starts from all"
        )
        #expect(MonkeyArea.parseList(" - Socket , -TIME").areas == [.dns, .select, .subprocess])
        #expect(MonkeyArea.parseList("socket,-socket,dns").areas == [.dns], "left to right")
        #expect(MonkeyArea.parseList("-dns,dns").areas == [.socket, .time, .select, .subprocess, .dns])
        #expect(MonkeyArea.parseList("thread,socket,-all").areas.isEmpty)
        #expect(MonkeyArea.parseList("socket,-thread").areas == [.socket])
        let list = MonkeyArea.parseList("all,-sockets,-none,-")
        #expect(list.areas == MonkeyArea.implemented)
        #expect(list.unknown == ["-sockets", "-none", "-"])
    }

    @Test func formattedValuesReadBack() throws {
        for bytes in [16_384, 262_144, 1 << 20, 3 << 30, 1000] {
            #expect(try SettingParser.size(SettingParser.formatSize(bytes), for: "X") == bytes)
        }
        let range: ClosedRange<Duration> = .nanoseconds(1) ... .seconds(100_000)
        for duration: Duration in [
            .milliseconds(5), .milliseconds(100), .seconds(3600), .nanoseconds(7), .milliseconds(1500),
        ] {
            #expect(try SettingParser.duration(SettingParser.formatDuration(duration), in: range, for: "X") == duration)
        }
    }
}
