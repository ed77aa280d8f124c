import Foundation
import NIOPosix
#if canImport(Glibc)
import Glibc
#endif

/// Clients that misbehave, or that only watch the close handshake, on plain sockets.
extension RawWebSocket {
    /// The upgrade request for `/v1/stream` with `token` as a bearer header.
    static func upgradeRequest(token: String) -> [UInt8] {
        Array(("GET /v1/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nAuthorization: Bearer \(token)\r\n\r\n").utf8)
    }

    /// What a client that sends pings and never reads could push into a stream.
    public struct PingFlood: Sendable {
        /// Bytes of ping frames the socket accepted.
        public let bytesSent: Int
        /// Whether the socket accepted nothing for `stall` at some point: the server had stopped
        /// reading (every buffer between the two full), rather than keeping up.
        public let stalled: Bool
        /// The error that ended the sending (the server closed the connection), if one did,
        /// and after how many seconds.
        public var failure: Int32? = nil
        public var seconds: Double = 0
    }

    /// Upgrades with `token`, waits for the first text frame, then sends ping frames of 125
    /// bytes without reading anything, from a socket with a small receive buffer, until `limit`
    /// bytes were accepted, the socket accepted nothing for `stall`, or `seconds` passed.
    public static func floodPings(port: Int, token: String, limit: Int, stall: Duration = .seconds(2), seconds: Double = 20) async throws -> PingFlood {
        try await NIOThreadPool.singleton.runIfActive {
            let fd = try RawHTTP.connectLoopback(port: port, receiveBuffer: 4096)
            defer { close(fd) }
            _ = upgradeRequest(token: token).withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            // The handshake's answer and `hello`: read once, then never again.
            var input = [UInt8]()
            var buffer = [UInt8](repeating: 0, count: 4096)
            let helloBy = Date().addingTimeInterval(10)
            while Date() < helloBy {
                if let end = find(input, [13, 10, 13, 10]), frame(Array(input[(end + 4)...])) != nil { break }
                var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                guard Glibc.poll(&p, 1, 200) > 0 else { continue }
                let n = recv(fd, &buffer, buffer.count, 0)
                guard n > 0 else { throw POSIXError(.ECONNRESET) }
                input += buffer[0..<n]
            }
            // The largest pings (125 bytes), so the pongs fill the server's socket buffer soon.
            let pings = Array((0..<512).map { _ in clientFrame(opcode: 0x9, [UInt8](repeating: 0x61, count: 125)) }.joined())
            var sent = 0
            var lastProgress = Date()
            let stallSeconds = Double(stall.components.seconds) + Double(stall.components.attoseconds) / 1e18
            let started = Date()
            let deadline = started.addingTimeInterval(seconds)
            while sent < limit, Date() < deadline {
                let n = pings.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT)) }
                if n > 0 {
                    sent += n
                    lastProgress = Date()
                } else if n < 0, errno != EAGAIN, errno != EWOULDBLOCK {
                    // The server closed the connection.
                    return PingFlood(bytesSent: sent, stalled: false, failure: errno, seconds: Date().timeIntervalSince(started))
                } else if Date().timeIntervalSince(lastProgress) >= stallSeconds {
                    return PingFlood(bytesSent: sent, stalled: true, seconds: Date().timeIntervalSince(started))
                } else {
                    usleep(1_000)
                }
            }
            return PingFlood(bytesSent: sent, stalled: false, seconds: Date().timeIntervalSince(started))
        }
    }

    /// A stream the server refuses (a bad token): the time from the client's answer to the
    /// server's close frame until the server closes the socket, or nil if it took over 10 s.
    public static func refusalCloseTime(port: Int, token: String) async throws -> Duration? {
        try await NIOThreadPool.singleton.runIfActive {
            let fd = try RawHTTP.connectLoopback(port: port)
            defer { close(fd) }
            _ = upgradeRequest(token: token).withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            var input = [UInt8]()
            var buffer = [UInt8](repeating: 0, count: 4096)
            var answeredAt: ContinuousClock.Instant?
            let deadline = Date().addingTimeInterval(15)
            while Date() < deadline {
                if answeredAt == nil, let end = find(input, [13, 10, 13, 10]) {
                    var at = end + 4
                    while let (opcode, payload, used) = frame(Array(input[at...])) {
                        at += used
                        guard opcode == 8 else { continue }
                        // Answer with the same code, as a browser does, and keep reading.
                        let answer = clientFrame(opcode: 0x8, Array(payload.prefix(2)))
                        _ = answer.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                        answeredAt = .now
                        break
                    }
                }
                var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                guard Glibc.poll(&p, 1, 50) > 0 else { continue }
                let n = recv(fd, &buffer, buffer.count, 0)
                if n <= 0 {
                    guard let answeredAt else { return nil }
                    let took = ContinuousClock.now - answeredAt
                    return took < .seconds(10) ? took : nil
                }
                input += buffer[0..<n]
            }
            return nil
        }
    }
}
