import CGreenlet
import Gevent
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Lines of /proc/self/maps: the process's memory mappings, which vm.max_map_count limits.
func mappingCount() -> Int {
    guard let file = fopen("/proc/self/maps", "r") else { return -1 }
    defer { fclose(file) }
    var lines = 0
    while true {
        let character = getc(file)
        if character == EOF { break }
        if character == 10 { lines += 1 }
    }
    return lines
}

/// The permissions column ("rw-p") of the /proc/self/maps line that holds `address`.
func mappingPermissions(of address: UInt) -> String? {
    guard let file = fopen("/proc/self/maps", "r") else { return nil }
    defer { fclose(file) }
    var line = [CChar](repeating: 0, count: 4096)
    while fgets(&line, Int32(line.count), file) != nil {
        let text = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let fields = text.split(separator: " ")
        let range = fields[0].split(separator: "-")
        guard fields.count > 1, range.count == 2, let low = UInt(range[0], radix: 16),
            let high = UInt(range[1], radix: 16)
        else { continue }
        if address >= low && address < high { return String(fields[1]) }
    }
    return nil
}

/// VmRSS of /proc/self/status, in KiB.
func residentKiB() -> Int {
    guard let file = fopen("/proc/self/status", "r") else { return -1 }
    defer { fclose(file) }
    var line = [CChar](repeating: 0, count: 512)
    while fgets(&line, Int32(line.count), file) != nil {
        let text = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        if text.hasPrefix("VmRSS:") {
            return Int(text.dropFirst(6).filter(\.isNumber)) ?? -1
        }
    }
    return -1
}

/// Whether this kernel has guard regions (madvise MADV_GUARD_INSTALL, Linux 6.13).
let kernelHasGuardRegions: Bool = {
    let page = Int(sysconf(Int32(_SC_PAGESIZE)))
    guard let memory = mmap(nil, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
        memory != MAP_FAILED
    else { return false }
    defer { munmap(memory, 2 * page) }
    return madvise(memory, page, 102) == 0
}()

/// Mappings added by `count` greenlets of `stackSize` that sleep, once all have started.
func mappingsAddedBySleepingGreenlets(_ count: Int, stackSize: Int? = nil) throws -> (added: Int, failed: Int) {
    var result = (added: 0, failed: 0)
    try withHub {
        try sleep(.zero)
        let before = mappingCount()
        let greenlets = (0..<count).map { _ in
            Greenlet(stackSize: stackSize) { try sleep(.seconds(3600)) }
        }
        for greenlet in greenlets { greenlet.start() }
        try sleep(.zero)
        result = (mappingCount() - before, greenlets.count { $0.isReady })
        try killAll(greenlets)
    }
    return result
}

@inline(never)
func touchStack() -> UInt8 {
    var buffer = InlineArray<98_304, UInt8>(repeating: 1)
    return withUnsafeMutablePointer(to: &buffer) {
        UnsafeMutableRawPointer($0).load(fromByteOffset: 4096, as: UInt8.self)
    }
}

@inline(never)
func useAFrameLargerThanTheStack() -> UInt8 {
    // 300 KiB of locals on a 256 KiB stack: the frame starts far below the stack's lowest address.
    var buffer = InlineArray<307_200, UInt8>(repeating: 1)
    return withUnsafeMutablePointer(to: &buffer) { pointer in
        UnsafeMutableRawPointer(pointer).storeBytes(of: 2, toByteOffset: 100, as: UInt8.self)
        return UnsafeMutableRawPointer(pointer).load(fromByteOffset: 100, as: UInt8.self)
    }
}

/// Exits 0 when `count` sleeping greenlets added `expected` mappings (with `GEVENT_STACK_GUARD` as given).
func countMappingsWithGuard(_ kind: GeventConfig.StackGuard, count: Int, expected: (Int) -> Bool) {
    var config = GeventConfig.current
    config.stackGuard = kind
    GeventConfig.current = config
    guard let (added, failed) = try? mappingsAddedBySleepingGreenlets(count) else { exit(3) }
    let report = "\(count) stacks with \(kind) guards: \(added) mappings added, \(failed) failed\n"
    _ = report.withCString { write(2, $0, strlen($0)) }
    exit(failed == 0 && expected(added) ? 0 : 1)
}

func overflowAGreenletStackWithMprotectGuards() {
    var config = GeventConfig.current
    config.stackGuard = .mprotect
    GeventConfig.current = config
    overflowAGreenletStack()
}

func runAFrameLargerThanTheStack() {
    let greenlet = Greenlet(name: "big-frame", stackSize: 256 * 1024) { useAFrameLargerThanTheStack() }
    greenlet.start()
    _ = try? greenlet.join()
}

/// Greenlet stacks: slabs, guard regions and the overflow report.
@Suite("Stacks", .serialized, .timeLimit(.minutes(3)))
struct StackTests {
    @Test(.enabled(if: kernelHasGuardRegions, "needs MADV_GUARD_INSTALL (Linux 6.13)"))
    func aHundredThousandSleepingGreenletsFitTheStockMapLimit() throws {
        let (added, failed) = try mappingsAddedBySleepingGreenlets(100_000)
        #expect(failed == 0, "greenlets that got no stack")
        #expect(added < 1000, "mappings added for 100,000 stacks")
    }

    @Test func stacksGivenBackAreReusedWithoutNewMappings() throws {
        try withHub {
            try sleep(.zero)
            let baseline = mappingCount()
            var peaks: [Int] = []
            var afterwards: [Int] = []
            for _ in 0..<5 {
                let greenlets = (0..<2000).map { _ in
                    spawn { try sleep(.milliseconds(1)) }
                }
                try sleep(.zero)
                peaks.append(mappingCount())
                try joinAll(greenlets)
                afterwards.append(mappingCount())
            }
            // A line or two may come and go with other threads' allocations.
            #expect(afterwards.max()! - afterwards.min()! <= 2, "mappings after each round: \(afterwards)")
            if kernelHasGuardRegions {
                #expect(peaks.max()! - baseline < 50, "mappings while 2,000 greenlets lived: \(peaks)")
            }
        }
    }

    @Test func stacksGivenBackReturnTheirMemory() throws {
        try withHub {
            try sleep(.zero)
            let before = residentKiB()
            // 1,000 greenlets that each touch 96 KiB of stack: about 94 MiB while they live.
            let done = Event()
            var touched = 0
            let greenlets = (0..<1000).map { _ in
                spawn { () throws -> UInt8 in
                    let value = touchStack()
                    touched += 1
                    try done.wait()
                    return value
                }
            }
            while touched < greenlets.count { try sleep(.milliseconds(1)) }
            let whileAlive = residentKiB()
            done.set()
            try joinAll(greenlets)
            let after = residentKiB()
            #expect(whileAlive - before > 80 * 1024, "KiB resident while the greenlets lived: \(whileAlive - before)")
            #expect(after - before < 32 * 1024, "KiB still resident after the greenlets ended: \(after - before)")
        }
    }

    @Test func stackGuardIsReadFromTheEnvironment() {
        defer { unsetenv("GEVENT_STACK_GUARD") }
        setenv("GEVENT_STACK_GUARD", "mprotect", 1)
        #expect(GeventConfig.fromEnvironment().stackGuard == .mprotect)
        setenv("GEVENT_STACK_GUARD", "MADVISE", 1)
        #expect(GeventConfig.fromEnvironment().stackGuard == .madvise)
        setenv("GEVENT_STACK_GUARD", "guard-pages", 1)
        #expect(GeventConfig.fromEnvironment().stackGuard == .auto)
    }

    @Test func guardRegionsAreHalfTheStackWithinBounds() {
        #expect(cgreenlet_stack_guard_size(256 * 1024) == 128 * 1024)
        #expect(cgreenlet_stack_guard_size(16 * 1024) == 64 * 1024)
        #expect(cgreenlet_stack_guard_size(8 << 20) == 1 << 20)
    }

    @Test func stacksAreNotExecutableInAProgramWhoseStackIsNot() throws {
        try withHub {
            let greenlet = spawn { () -> String? in
                var local = 0
                return withUnsafeMutablePointer(to: &local) { mappingPermissions(of: UInt(bitPattern: $0)) }
            }
            let permissions = try greenlet.get()
            #expect(permissions == "rw-p")
            #expect(cgreenlet_stacks_are_executable() == 0)
        }
    }

    @Test(.enabled(if: kernelHasGuardRegions, "needs MADV_GUARD_INSTALL (Linux 6.13)"))
    func madviseGuardsAddNoMappingPerStack() async {
        // Against 4,000 or more with mprotect guards; the margin covers the allocator's own mappings (ASan's
        // grows as the greenlets' objects are allocated).
        await #expect(processExitsWith: .success) {
            countMappingsWithGuard(.madvise, count: 2000) { $0 < 200 }
        }
    }

    @Test func mprotectGuardsAreTheFallback() async {
        await #expect(processExitsWith: .success) {
            countMappingsWithGuard(.mprotect, count: 2000) { $0 >= 2 * 2000 }
        }
    }

    @Test func overflowIsReportedWithMprotectGuards() async {
        let result = await #expect(processExitsWith: .signal(SIGABRT), observing: [\.standardErrorContent]) {
            overflowAGreenletStackWithMprotectGuards()
        }
        if let result {
            let stderr = String(decoding: result.standardErrorContent, as: UTF8.self)
            #expect(stderr.contains("greenlet deep-recursion overflowed its 64 KiB stack; set GEVENT_STACK_SIZE"))
        }
    }

    @Test func aFrameLargerThanTheStackIsReported() async {
        let result = await #expect(processExitsWith: .signal(SIGABRT), observing: [\.standardErrorContent]) {
            runAFrameLargerThanTheStack()
        }
        if let result {
            let stderr = String(decoding: result.standardErrorContent, as: UTF8.self)
            #expect(stderr.contains("greenlet big-frame overflowed its 256 KiB stack; set GEVENT_STACK_SIZE"))
        }
    }
}
