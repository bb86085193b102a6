import Gevent
import Testing

/// gevent's link tests (test__greenlet.py, test__order.py).
@Suite("GreenletLink", .serialized, .timeLimit(.minutes(1)))
struct GreenletLinkTests {
    @Test func valueLinksFireOnSuccessOnly() throws {
        try withHub {
            var fired: [String] = []
            let g = spawn { 25 }
            g.link { _ in fired.append("link") }
            g.linkValue { _ in fired.append("value") }
            g.linkError { _ in fired.append("error") }
            try sleep(.milliseconds(20))
            #expect(fired.sorted() == ["link", "value"])
        }
    }

    @Test func errorLinksFireOnFailureOnly() throws {
        try withHub {
            _ = ErrorLog()
            var fired: [String] = []
            let g = spawn { () throws -> Int in throw ExpectedError() }
            g.link { _ in fired.append("link") }
            g.linkValue { _ in fired.append("value") }
            g.linkError { _ in fired.append("error") }
            try sleep(.milliseconds(20))
            #expect(fired.sorted() == ["error", "link"])
        }
    }

    @Test func killWithGreenletExitFiresValueLinksNotErrorLinks() throws {
        try withHub {
            var fired: [String] = []
            let g = spawn { try sleep(.seconds(10)) }
            g.linkValue { _ in fired.append("value") }
            g.linkError { _ in fired.append("error") }
            try sleep(.milliseconds(1))
            try g.kill()
            try sleep(.milliseconds(10))
            #expect(fired == ["value"])
        }
    }

    @Test func linksAddedAfterCompletionStillFire() throws {
        try withHub {
            let g = spawn { 100 }
            try g.join()
            var values: [Int] = []
            for _ in 0..<3 {
                g.rawLink { finished in values.append((finished as! Greenlet<Int>).value!) }
            }
            try sleep(.milliseconds(1))
            #expect(values == [100, 100, 100])
        }
    }

    @Test func thousandLinksFireInRegistrationOrder() throws {
        try withHub {
            var order: [Int] = []
            let g = spawn {}
            for i in 0..<1000 {
                g.rawLink { _ in order.append(i) }
            }
            try g.join()
            try sleep(.milliseconds(1))
            #expect(order == Array(0..<1000))
        }
    }

    @Test func aLinkThatUnlinksALaterLinkPreventsIt() throws {
        try withHub {
            var results: [Int] = []
            let g = spawn {}
            var later: LinkToken?
            g.rawLink { greenlet in
                results.append(5)
                greenlet.unlink(later!)
            }
            later = g.rawLink { _ in results.append(6) }
            try g.join()
            try sleep(.milliseconds(1))
            #expect(results == [5])
        }
    }

    @Test func unlinkBeforeCompletionPreventsTheLink() throws {
        try withHub {
            var fired = false
            let g = spawn { try sleep(.milliseconds(5)) }
            let token = g.link { _ in fired = true }
            #expect(g.hasLinks)
            g.unlink(token)
            #expect(!g.hasLinks)
            try g.join()
            try sleep(.milliseconds(5))
            #expect(!fired)
        }
    }

    @Test func raisingLinksAreReportedAndTheOthersStillRun() throws {
        try withHub {
            let log = ErrorLog()
            var results: [Int] = []
            let g = spawn {}
            g.link { _ in
                results.append(10)
                throw ExpectedError(tag: "first")
            }
            g.link { _ in
                results.append(20)
                throw ExpectedError(tag: "second")
            }
            try g.join()
            try sleep(.milliseconds(10))
            #expect(results.sorted() == [10, 20])
            #expect(log.entries.count == 2)
        }
    }

    @Test func spawnedLinksMayBlock() throws {
        try withHub {
            var done = false
            let g = spawn {}
            g.link { _ in
                try sleep(.milliseconds(5))
                done = true
            }
            try g.join()
            try sleep(.milliseconds(30))
            #expect(done)
        }
    }

    @Test func blockingInsideARawLinkFailsClearly() throws {
        try withHub {
            var caught: (any Error)?
            let g = spawn {}
            g.rawLink { _ in
                do {
                    try sleep(.milliseconds(1))
                } catch {
                    caught = error
                }
            }
            try g.join()
            try sleep(.milliseconds(1))
            let error = try #require(caught as? BlockingSwitchOutError)
            #expect(error.description.contains("Impossible to call blocking function in the event loop callback"))
        }
    }
}
