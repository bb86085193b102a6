import Gevent
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A file under /tmp holding `bytes`, opened for reading; removed from the directory at once.
private func temporaryFile(_ bytes: [UInt8]) throws -> FileDescriptor {
    var template = Array("/tmp/gevent-sendfile-XXXXXX".utf8CString)
    let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
    try #require(fd >= 0)
    template.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) }
    let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    try #require(written == bytes.count)
    return FileDescriptor(fd)
}

/// Socket.sendfile, sendMsg/recvMsg with ancillary data, and connectEx (gevent's sendfile, sendmsg,
/// recvmsg, connect_ex).
@Suite("SocketMessages", .serialized, .timeLimit(.minutes(1)))
struct SocketMessageTests {
    @Test func sendfileSendsTheRangeAskedForAndToTheEndOfTheFile() throws {
        try withHub {
            let content = patternBytes(300_000)
            let file = try temporaryFile(content)
            defer { close(file.rawValue) }
            let (client, server) = try makeConnectedPair()
            defer { server.close() }
            let reader = spawn { try readAll(server) }
            #expect(try client.sendfile(file, offset: 1000, count: 5000) == 5000)
            #expect(try client.sendfile(file, offset: 250_000) == 50_000)  // nil count: to the end
            #expect(try client.sendfile(file, offset: 400_000) == 0)  // past the end
            client.close()
            #expect(try reader.get() == Array(content[1000..<6000]) + Array(content[250_000...]))
            #expect(lseek(file.rawValue, 0, SEEK_CUR) == 300_000, "the file's own position is not moved")
        }
    }

    @Test func sendfileFallsBackToReadsForAPipeAndRejectsNegativeRanges() throws {
        try withHub {
            var fds: [Int32] = [-1, -1]
            try #require(pipe(&fds) == 0)
            defer { close(fds[0]) }
            let (client, server) = try makeConnectedPair()
            defer { server.close() }
            let error = #expect(throws: SocketError.self) { try client.sendfile(FileDescriptor(fds[0]), offset: -1) }
            #expect(error?.code == .invalidArgument)
            _ = "from a pipe".withCString { write(fds[1], $0, 11) }
            close(fds[1])
            let reader = spawn { try readAll(server) }
            #expect(try client.sendfile(FileDescriptor(fds[0])) == 11)  // sendfile(2) refuses a pipe: read it
            client.close()
            #expect(try reader.get() == Array("from a pipe".utf8))
            let (otherClient, otherServer) = try makeConnectedPair()
            defer {
                otherClient.close()
                otherServer.close()
            }
            // A pipe has no positions: an offset other than 0 cannot be honoured.
            let seekError = #expect(throws: SocketError.self) {
                try otherClient.sendfile(FileDescriptor(fds[0]), offset: 5)
            }
            #expect(seekError?.code.rawValue == ESPIPE)
        }
    }

    @Test func descriptorsTravelThroughSendMsgAndRecvMsg() throws {
        try withHub {
            let (left, right) = try socketPair()
            defer {
                left.close()
                right.close()
            }
            var fds: [Int32] = [-1, -1]
            try #require(pipe(&fds) == 0)
            defer { close(fds[0]) }
            let sent = try left.sendMsg(
                [Array("two ".utf8), Array("parts".utf8)],
                ancillary: [.fileDescriptors([FileDescriptor(fds[1])])]
            )
            #expect(sent == 9)
            let message = try right.recvMsg(maxBytes: 64, ancillaryBytes: 64)
            close(fds[1])
            #expect(message.bytes == Array("two parts".utf8))
            let passed = try #require(message.ancillary.first?.fileDescriptors?.first)
            #expect(passed.rawValue != fds[1], "the receiver gets a descriptor of its own")
            _ = "through".withCString { write(passed.rawValue, $0, 7) }
            close(passed.rawValue)
            var buffer = [UInt8](repeating: 0, count: 16)
            #expect(read(fds[0], &buffer, 16) == 7)
            #expect(Array(buffer[..<7]) == Array("through".utf8))
        }
    }

    @Test func recvMsgReportsATruncatedDatagramAndItsSender() throws {
        try withHub {
            let receiver = try Socket(family: .inet, type: .datagram)
            try receiver.bind(to: SocketAddress("127.0.0.1:0"))
            let sender = try Socket(family: .inet, type: .datagram)
            try sender.bind(to: SocketAddress("127.0.0.1:0"))
            defer {
                receiver.close()
                sender.close()
            }
            #expect(try sender.sendMsg([patternBytes(100)], to: receiver.localAddress) == 100)
            let message = try receiver.recvMsg(maxBytes: 10)
            #expect(message.bytes == Array(patternBytes(100)[..<10]))
            #expect(message.flags.rawValue & CInt(MSG_TRUNC) != 0)
            #expect(message.sender == (try sender.localAddress))
            #expect(message.ancillary.isEmpty)
        }
    }

    @Test func connectExReturnsTheFailureInsteadOfThrowing() throws {
        try withHub {
            let refused = try Socket(family: .inet, type: .stream)
            defer { refused.close() }
            #expect(
                try refused.connectEx(to: SocketAddress(ipv4: "127.0.0.1", port: unusedPort())) == .connectionRefused
            )
            let (listener, address) = try makeListener()
            defer { listener.close() }
            let client = try Socket(family: .inet, type: .stream)
            defer { client.close() }
            #expect(try client.connectEx(to: address) == nil)
        }
    }
}
