import Foundation
import NIOPosix
#if canImport(Glibc)
import Glibc
#endif

/// A minimal WebSocket client on a plain socket, for streams the server refuses at once.
/// (HummingbirdWSClient may lose frames that arrive in the same read as the 101 response: a
/// refusal sent right after the upgrade then never shows. Browsers and other clients see it.)
public enum RawWebSocket {
    public struct Outcome: Sendable {
        /// The status line of the handshake answer ("HTTP/1.1 101 Switching Protocols").
        public let status: String
        public let texts: [String]
        public let closeCode: UInt16?
        public let closeReason: String?
        /// Every frame received, as opcode and payload (the close frame included).
        public var frames: [Frame] = []
    }

    public struct Frame: Sendable, Equatable {
        public let opcode: UInt8
        public let payload: [UInt8]

        public init(opcode: UInt8, payload: [UInt8]) {
            self.opcode = opcode
            self.payload = payload
        }
    }

    /// A masked client frame: any opcode, FIN or not.
    public static func clientFrame(opcode: UInt8, fin: Bool = true, _ payload: [UInt8]) -> [UInt8] {
        var bytes = masked(payload)
        bytes[0] = (fin ? 0x80 : 0) | opcode
        return bytes
    }

    /// Upgrades `/v1/stream?query` (with `token` as a bearer header, if any), sends `frames` as
    /// masked text frames, and reads text frames until the server's close frame, EOF or 20 s.
    /// `afterHello` (raw frames, `clientFrame`) is sent once the first text frame has come.
    public static func exchange(
        port: Int, token: String?, query: String = "", send frames: [String] = [], afterHello: [[UInt8]] = []
    ) async throws -> Outcome {
        try await NIOThreadPool.singleton.runIfActive {
            let fd = try RawHTTP.connectLoopback(port: port)
            defer { close(fd) }
            var head = "GET /v1/stream\(query.isEmpty ? "" : "?" + query) HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                + "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
            if let token { head += "Authorization: Bearer \(token)\r\n" }
            var out = Array((head + "\r\n").utf8)
            for frame in frames { out += masked(Array(frame.utf8)) }
            _ = out.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }

            var input = [UInt8]()
            var buffer = [UInt8](repeating: 0, count: 65536)
            var status = ""
            var texts: [String] = []
            var received: [Frame] = []
            var afterHello = afterHello
            let deadline = Date().addingTimeInterval(20)
            while Date() < deadline {
                // Parse what is there: the handshake answer, then frames.
                if status.isEmpty, let end = find(input, [13, 10, 13, 10]) {
                    status = String(decoding: input[..<end], as: UTF8.self).components(separatedBy: "\r\n").first ?? ""
                    input.removeFirst(end + 4)
                    guard status.contains(" 101 ") else { return Outcome(status: status, texts: [], closeCode: nil, closeReason: nil) }
                }
                while !status.isEmpty, let (opcode, payload, used) = frame(input) {
                    input.removeFirst(used)
                    received.append(Frame(opcode: opcode, payload: payload))
                    if opcode == 1 {
                        texts.append(String(decoding: payload, as: UTF8.self))
                        let next = afterHello.flatMap { $0 }
                        afterHello = []
                        if !next.isEmpty { _ = next.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) } }
                    }
                    if opcode == 8 {
                        let code = payload.count >= 2 ? UInt16(payload[0]) << 8 | UInt16(payload[1]) : nil
                        let reason = payload.count > 2 ? String(decoding: payload[2...], as: UTF8.self) : nil
                        return Outcome(status: status, texts: texts, closeCode: code, closeReason: reason, frames: received)
                    }
                }
                var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                guard Glibc.poll(&p, 1, 200) > 0 else { continue }
                let n = recv(fd, &buffer, buffer.count, 0)
                if n <= 0 { break }
                input.append(contentsOf: buffer[0..<n])
            }
            return Outcome(status: status, texts: texts, closeCode: nil, closeReason: nil, frames: received)
        }
    }

    static func masked(_ payload: [UInt8]) -> [UInt8] {
        var bytes: [UInt8] = [0x81]
        if payload.count < 126 {
            bytes.append(0x80 | UInt8(payload.count))
        } else if payload.count < 65536 {
            bytes += [0x80 | 126, UInt8(payload.count >> 8), UInt8(payload.count & 0xff)]
        } else {
            bytes += [0x80 | 127] + (0..<8).reversed().map { UInt8(truncatingIfNeeded: payload.count >> ($0 * 8)) }
        }
        let mask: [UInt8] = [0x12, 0x34, 0x56, 0x78]
        bytes += mask
        bytes += payload.enumerated().map { $0.element ^ mask[$0.offset % 4] }
        return bytes
    }

    /// One unmasked server frame at the start of `bytes`: opcode, payload, bytes used.
    static func frame(_ bytes: [UInt8]) -> (UInt8, [UInt8], Int)? {
        frame(bytes, at: 0)
    }

    /// One unmasked server frame at `start` of `bytes`: opcode, payload, bytes used.
    static func frame(_ bytes: [UInt8], at start: Int) -> (UInt8, [UInt8], Int)? {
        header(bytes, at: start).map { ($0.opcode, Array(bytes[$0.payload]), $0.length) }
    }

    /// A whole server frame at `start`, read in place: its opcode, where its payload is, and
    /// its length in all; nil while incomplete (server frames are not masked).
    static func header(_ bytes: [UInt8], at start: Int) -> (opcode: UInt8, payload: Range<Int>, length: Int)? {
        let available = bytes.count - start
        guard available >= 2 else { return nil }
        var length = Int(bytes[start + 1] & 0x7f)
        var offset = 2
        if length == 126 {
            guard available >= 4 else { return nil }
            length = Int(bytes[start + 2]) << 8 | Int(bytes[start + 3])
            offset = 4
        } else if length == 127 {
            guard available >= 10 else { return nil }
            length = bytes[(start + 2)..<(start + 10)].reduce(0) { $0 << 8 | Int($1) }
            offset = 10
        }
        guard available >= offset + length else { return nil }
        return (bytes[start] & 0x0f, (start + offset)..<(start + offset + length), offset + length)
    }

    static func find(_ bytes: [UInt8], _ needle: [UInt8]) -> Int? {
        guard bytes.count >= needle.count else { return nil }
        return (0...(bytes.count - needle.count)).first { Array(bytes[$0..<($0 + needle.count)]) == needle }
    }
}
