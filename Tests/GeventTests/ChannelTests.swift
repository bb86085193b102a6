import Gevent
import Testing

/// gevent's test__queue.py for Channel (§3.2 item 3): rendezvous, ordering, calls from the hub.
@Suite("Channel", .serialized, .timeLimit(.minutes(1)))
struct ChannelTests {
    @Test func putInsideTheHubWithoutAWaitingGetterThrowsQueueFull() throws {
        try withHub {
            let channel = Channel<Int>()
            let first = try resultInsideTheHub { try channel.tryPut(2) }
            let second = try resultInsideTheHub { try channel.tryPut(3) }
            #expect(throws: QueueFull.self) { try first?.get() }
            #expect(throws: QueueFull.self) { try second?.get() }
        }
    }

    @Test func putInsideTheHubHandsTheItemToAWaitingGetter() throws {
        try withHub {
            let channel = Channel<Int>()
            let getter = spawn { try channel.get() }
            try sleep(.milliseconds(1))
            var putResult: Result<Void, any Error>?
            Hub.current.runCallback { putResult = Result { try channel.tryPut(10) } }
            #expect(!getter.isReady)
            try sleep(.milliseconds(1))
            #expect(putResult != nil && (try? putResult?.get()) != nil)
            #expect(getter.value == 10)
        }
    }

    @Test func getInsideTheHubTakesFromAWaitingPutter() throws {
        try withHub {
            let channel = Channel<Int>()
            let putter = spawn { try channel.put(5) }
            try sleep(.milliseconds(1))
            #expect(channel.balance == 1)
            var taken: Result<Int, any Error>?
            Hub.current.runCallback { taken = Result { try channel.tryGet() } }
            try sleep(.milliseconds(1))
            #expect(try taken?.get() == 5)
            #expect(putter.isDead && putter.isSuccessful)
            #expect(channel.balance == 0)
        }
    }

    @Test func aWaitingGetterReceivesTheNextPut() throws {
        try withHub {
            let channel = Channel<String>()
            let waiter = spawn { () throws -> String in
                try withTimeout(.seconds(1)) { try channel.get() }
            }
            try sleep(.milliseconds(10))
            try channel.put("hi2")
            try sleep(.milliseconds(10))
            let value = try waiter.get(timeout: .zero)
            #expect(value == "hi2")
        }
    }

    @Test func aSenderBlocksUntilAReceiverArrives() throws {
        try withHub {
            let channel = Channel<String>()
            let sent = AsyncResult<String>()
            let received = AsyncResult<String>()
            let sender = spawn {
                try channel.put("hi")
                sent.set("done")
            }
            try sleep(.milliseconds(1))
            #expect(!sent.isReady)
            let receiver = spawn { received.set(try channel.get()) }
            let value = try received.get()
            let status = try sent.get()
            #expect(value == "hi")
            #expect(status == "done")
            _ = try Timeout.run(.zero) { try joinAll([sender, receiver]) }
        }
    }

    @Test func putSideOrderingMatchesGevent() throws {
        try withHub {
            let channel = Channel<String>()
            var events: [String] = []
            let other = spawn {
                events.append(try channel.get())
                events.append(try channel.get())
            }
            events.append("sending")
            try channel.put("hello")
            events.append("sent hello")
            try channel.put("world")
            events.append("sent world")
            #expect(events == ["sending", "hello", "sent hello", "world", "sent world"])
            try other.get()
        }
    }

    @Test func getSideOrderingMatchesGevent() throws {
        try withHub {
            let channel = Channel<String>()
            var events: [String] = []
            let other = spawn {
                events.append("sending hello")
                try channel.put("hello")
                events.append("sending world")
                try channel.put("world")
                events.append("sent world")
            }
            events.append("waiting")
            events.append(try channel.get())
            events.append(try channel.get())
            #expect(events == ["waiting", "sending hello", "hello", "sending world", "world"])
            try sleep(.zero)
            #expect(events == ["waiting", "sending hello", "hello", "sending world", "world", "sent world"])
            try other.get()
        }
    }

    @Test func iterationEndsAtShutdown() throws {
        try withHub {
            let channel = Channel<Int>()
            spawn {
                try channel.put(1)
                try channel.put(2)
                channel.shutdown()
            }
            var received: [Int] = []
            while let item = try channel.next() {
                received.append(item)
            }
            #expect(received == [1, 2])
            #expect(throws: QueueShutDown.self) { try channel.put(3) }
        }
    }

    @Test func getWithATimeoutThrowsQueueEmpty() throws {
        try withHub {
            let channel = Channel<Int>()
            let start = ContinuousClock.now
            #expect(throws: QueueEmpty.self) { try channel.get(timeout: .milliseconds(20)) }
            #expect(elapsedMilliseconds(since: start) >= 15)
            #expect(channel.balance == 0)
        }
    }

    @Test func putWithATimeoutThrowsQueueFull() throws {
        try withHub {
            let channel = Channel<Int>()
            let start = ContinuousClock.now
            #expect(throws: QueueFull.self) { try channel.put(2, timeout: .milliseconds(20)) }
            #expect(elapsedMilliseconds(since: start) >= 15)
            #expect(channel.balance == 0)
        }
    }

    @Test func aNonBlockingPutSucceedsWhenAGetterIsAlreadyWaiting() throws {
        try withHub {
            let channel = Channel<Int>()
            #expect(throws: QueueFull.self) { try channel.tryPut(1) }
            let getter = spawn { try channel.get() }
            try sleep(.zero)
            try channel.tryPut(2)
            let value = try getter.get()
            #expect(value == 2)
        }
    }
}
