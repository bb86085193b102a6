import Gevent

/// The bytes read from a connection and not consumed yet: one growable allocation per connection, which
/// the parser and the body decoder read in place.
final class ConnectionBuffer {
    private var storage: UnsafeMutableRawBufferPointer
    private(set) var start = 0
    private(set) var end = 0
    /// The most the buffer may grow to (the head limit plus room for a read).
    let maxCapacity: Int

    init(initialCapacity: Int, maxCapacity: Int) {
        storage = UnsafeMutableRawBufferPointer.allocate(byteCount: initialCapacity, alignment: 16)
        self.maxCapacity = max(maxCapacity, initialCapacity)
    }

    deinit {
        storage.deallocate()
    }

    var count: Int { end - start }
    var isEmpty: Bool { start == end }

    /// The unread bytes, valid until the next ``fill(from:)``.
    var bytes: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: storage[start..<end])
    }

    func consume(_ count: Int) {
        start += count
        if start == end {
            start = 0
            end = 0
        }
    }

    /// Takes up to `count` unread bytes.
    func take(_ count: Int) -> [UInt8] {
        let taken = Array(UnsafeRawBufferPointer(rebasing: storage[start..<(start + count)]))
        consume(count)
        return taken
    }

    /// Reads once from `socket` into the free space, moving or growing the buffer when it is full; `false`
    /// at the end of the stream or when the buffer is at ``maxCapacity`` already. May switch greenlets.
    func fill(from transport: HTTPTransport) throws -> Bool {
        if end == storage.count {
            if start > 0 {
                let unread = count
                storage.baseAddress!.copyMemory(from: storage.baseAddress! + start, byteCount: unread)
                start = 0
                end = unread
            } else {
                guard storage.count < maxCapacity else { return false }
                let grown = UnsafeMutableRawBufferPointer.allocate(
                    byteCount: min(storage.count * 2, maxCapacity),
                    alignment: 16
                )
                grown.baseAddress!.copyMemory(from: storage.baseAddress!, byteCount: end)
                storage.deallocate()
                storage = grown
            }
        }
        let received = try transport.recv(into: UnsafeMutableRawBufferPointer(rebasing: storage[end...]))
        end += received
        return received > 0
    }
}
