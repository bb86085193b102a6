import Gevent
import Testing

/// A thousand producers and a thousand consumers over bounded queues and channels, with timeouts that
/// make waiters give up and retry: every item must arrive exactly once.
@Suite("QueueStress", .serialized, .timeLimit(.minutes(1)))
struct QueueStressTests {
    static let workers = 1000
    static let itemsPerWorker = 10
    static let lanes = 4

    @Test func everyItemOverBoundedQueuesIsDeliveredExactlyOnce() throws {
        try withHub {
            let queues = (0..<Self.lanes).map { _ in Queue<Int>(maxSize: 8) }
            var received: [Int] = []
            var producers: [AnyGreenlet] = []
            var consumers: [AnyGreenlet] = []
            for worker in 0..<Self.workers {
                let queue = queues[worker % Self.lanes]
                producers.append(
                    spawn {
                        for k in 0..<Self.itemsPerWorker {
                            let item = worker * Self.itemsPerWorker + k
                            // Short timeouts make putters give up and retry from the back of the line.
                            while true {
                                do {
                                    try queue.put(item, timeout: .milliseconds(Int64(1 + (worker + k) % 7)))
                                    break
                                } catch is QueueFull {}
                            }
                            if k % 3 == 0 { try sleep(.zero) }
                        }
                    }
                )
                consumers.append(
                    spawn {
                        var taken = 0
                        while taken < Self.itemsPerWorker {
                            do {
                                received.append(try queue.get(timeout: .milliseconds(Int64(1 + worker % 5))))
                                taken += 1
                            } catch is QueueEmpty {}
                        }
                    }
                )
            }
            try joinAll(producers + consumers, timeout: .seconds(45), raiseError: true)
            let total = Self.workers * Self.itemsPerWorker
            #expect(received.count == total)
            #expect(Set(received).count == total)
            #expect(received.allSatisfy { $0 >= 0 && $0 < total })
            #expect(queues.allSatisfy { $0.isEmpty && $0.waitingGetters == 0 && $0.waitingPutters == 0 })
        }
    }

    @Test func everyItemOverChannelsIsDeliveredExactlyOnce() throws {
        try withHub {
            let channels = (0..<Self.lanes).map { _ in Channel<Int>() }
            var received: [Int] = []
            var greenlets: [AnyGreenlet] = []
            for worker in 0..<Self.workers {
                let channel = channels[worker % Self.lanes]
                greenlets.append(
                    spawn {
                        for k in 0..<Self.itemsPerWorker {
                            try channel.put(worker * Self.itemsPerWorker + k)
                        }
                    }
                )
                greenlets.append(
                    spawn {
                        var taken = 0
                        while taken < Self.itemsPerWorker {
                            do {
                                received.append(try channel.get(timeout: .milliseconds(Int64(1 + worker % 5))))
                                taken += 1
                            } catch is QueueEmpty {}
                        }
                    }
                )
            }
            try joinAll(greenlets, timeout: .seconds(45), raiseError: true)
            let total = Self.workers * Self.itemsPerWorker
            #expect(received.count == total)
            #expect(Set(received).count == total)
            #expect(channels.allSatisfy { $0.balance == 0 })
        }
    }
}
