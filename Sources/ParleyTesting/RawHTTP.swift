import Foundation
import NIOPosix
#if canImport(Glibc)
import Glibc
#endif

/// A plain TCP client for what an HTTP client library hides: sending only part of a declared
/// body and reading the answer that arrives meanwhile.
public enum RawHTTP {
    /// Sends `head` (request line + headers, CRLF-terminated, without the blank line), then up
    /// to `send` bytes of `body` in pieces, stopping early once the server has answered; returns
    /// the response's status code and the number of body bytes that were sent.
    public static func partialUpload(
        port: Int, head: String, body: [UInt8], send: Int
    ) async throws -> (status: Int, sent: Int, response: String) {
        try await NIOThreadPool.singleton.runIfActive {
            let fd = try connectLoopback(port: port)
            defer { close(fd) }
            let headBytes = Array((head + "\r\n").utf8)
            _ = headBytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            var sent = 0
            var response = [UInt8]()
            var buffer = [UInt8](repeating: 0, count: 65536)
            func poll(timeout: Int32) -> Bool {
                var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                return Glibc.poll(&p, 1, timeout) > 0
            }
            while sent < min(send, body.count) {
                if poll(timeout: 0) { break }
                let piece = min(64 * 1024, min(send, body.count) - sent)
                let n = body[sent..<(sent + piece)].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                if n <= 0 { break }
                sent += n
            }
            // Read whatever answer comes (up to 30 s: the server stores what it received first,
            // slowly when the whole suite shares the cores), without sending the rest of the body.
            let deadline = Date().addingTimeInterval(30)
            while Date() < deadline {
                guard poll(timeout: 200) else {
                    if let text = String(bytes: response, encoding: .utf8), text.contains("\r\n\r\n") { break }
                    continue
                }
                let n = recv(fd, &buffer, buffer.count, 0)
                if n <= 0 { break }
                response.append(contentsOf: buffer[0..<n])
                if let text = String(bytes: response, encoding: .utf8), let end = text.range(of: "\r\n\r\n"),
                    let length = text[..<end.lowerBound].split(separator: "\r\n")
                        .first(where: { $0.lowercased().hasPrefix("content-length:") })
                        .flatMap({ Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) }),
                    response.count >= text.utf8.distance(from: text.utf8.startIndex, to: end.upperBound) + length
                {
                    break
                }
            }
            let text = String(decoding: response, as: UTF8.self)
            let status = text.split(separator: " ", maxSplits: 2).dropFirst().first.flatMap { Int($0) } ?? 0
            return (status, sent, text)
        }
    }
}

extension RawHTTP {
    /// A connected TCP socket to 127.0.0.1:`port` (the caller closes it); `receiveBuffer`, if
    /// given, is its SO_RCVBUF, set before connecting so the window it offers stays that small.
    static func connectLoopback(port: Int, receiveBuffer: Int32? = nil) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EIO) }
        if var size = receiveBuffer {
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            close(fd)
            throw POSIXError(.ECONNREFUSED)
        }
        return fd
    }

    /// A TCP connection that sent some bytes and then nothing more (a half-sent request, a
    /// slowloris, an idle keep-alive): held open until the server drops it or `close()`.
    public final class HeldConnection: Sendable {
        let fd: Int32

        /// Connects to 127.0.0.1:`port` and sends `bytes`.
        public init(port: Int, sending bytes: String) throws {
            fd = try RawHTTP.connectLoopback(port: port)
            let data = Array(bytes.utf8)
            _ = data.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        }

        /// Sends more bytes (false once the server has closed the connection).
        public func send(_ bytes: String) -> Bool {
            let data = Array(bytes.utf8)
            return data.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) } == data.count
        }

        /// Waits (polling, without blocking a thread of the cooperative pool) until the server
        /// closes the connection; returns what it sent before closing, or nil if it is still
        /// open after `limit`.
        public func closedByServer(within limit: Duration) async -> String? {
            let (bytes, closed) = await read(within: limit) { _ in false }
            return closed ? String(decoding: bytes, as: UTF8.self) : nil
        }

        /// Waits for one response (head and `Content-Length` body) and returns it, leaving the
        /// connection open; nil if none arrived within `limit`.
        public func received(within limit: Duration) async -> String? {
            let (bytes, _) = await read(within: limit) { bytes in
                let text = String(decoding: bytes, as: UTF8.self)
                guard let end = text.range(of: "\r\n\r\n") else { return false }
                let length = text[..<end.lowerBound].split(separator: "\r\n")
                    .first { $0.lowercased().hasPrefix("content-length:") }
                    .flatMap { Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) } ?? 0
                return text.utf8.count - text[..<end.upperBound].utf8.count >= length
            }
            return bytes.isEmpty ? nil : String(decoding: bytes, as: UTF8.self)
        }

        /// Reads (polling, never blocking a thread of the cooperative pool) until `done` says
        /// so, the server closes the connection (`closed`), or `limit` passes.
        private func read(within limit: Duration, until done: ([UInt8]) -> Bool) async -> (bytes: [UInt8], closed: Bool) {
            let deadline = ContinuousClock.now + limit
            var received = [UInt8]()
            var buffer = [UInt8](repeating: 0, count: 4096)
            while ContinuousClock.now < deadline {
                var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                guard Glibc.poll(&p, 1, 0) > 0 else {
                    try? await Task.sleep(for: .milliseconds(10))
                    continue
                }
                let n = recv(fd, &buffer, buffer.count, 0)
                if n <= 0 { return (received, true) }
                received.append(contentsOf: buffer[0..<n])
                if done(received) { return (received, false) }
            }
            return (received, false)
        }

        deinit { Glibc.close(fd) }
    }
}
