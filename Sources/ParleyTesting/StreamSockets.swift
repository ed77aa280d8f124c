import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Many `/v1/stream` WebSockets on plain sockets, for benchmarks: each is opened with the
/// handshake and held once its `hello` frame has arrived (the server has registered it). They
/// stay idle, or one thread drains them, discarding what arrives — the cheapest possible
/// client, so that what is measured is the server.
public final class StreamSockets: Sendable {
    private let sockets = Mutex<[Int32]>([])
    private let running = Atomic<Bool>(false)
    private let received = Atomic<Int>(0)
    private let ended = Atomic<Int>(0)
    private let closeCodes = Mutex<[Int: Int]>([:])

    public init() {}

    public var count: Int { sockets.withLock { $0.count } }

    /// Bytes the draining thread has read so far.
    public var bytesReceived: Int { received.load(ordering: .relaxed) }

    /// Streams the server closed while they were drained (a slow consumer's close among them):
    /// they received nothing after that, so a figure measured over them is not over all.
    public var closedByServer: Int { ended.load(ordering: .relaxed) }

    /// The close codes of the server's close frames, and how many streams got each.
    public var serverCloseCodes: [Int: Int] { closeCodes.withLock { $0 } }

    /// Opens a stream for each token (on `parallelism` threads); throws if any is refused.
    public func open(port: Int, tokens: [String], parallelism: Int = 4) async throws {
        try await withThrowingTaskGroup(of: [Int32].self) { group in
            for lane in 0..<parallelism {
                let mine = stride(from: lane, to: tokens.count, by: parallelism).map { tokens[$0] }
                group.addTask {
                    try await Self.onThread {
                        var opened: [Int32] = []
                        for token in mine { opened.append(try Self.openOne(port: port, token: token)) }
                        return opened
                    }
                }
            }
            for try await opened in group { sockets.withLock { $0 += opened } }
        }
    }

    /// Starts `lanes` threads that read every socket (those opened later too; socket i is lane
    /// i mod `lanes`'s), answer the server's pings (as a browser does) and discard everything
    /// else — live clients that keep up — until `close()`. More than one lane, and frames read
    /// in place (only a ping's or a close's payload is copied): one thread on this 2-core
    /// machine fell 1,000 frames behind on some of 50 sockets now and then, and the server
    /// rightly closed those as slow consumers (4008), which made a run measure fewer sockets.
    public func startDraining(lanes: Int = 4) {
        running.store(true, ordering: .relaxed)
        for lane in 0..<max(lanes, 1) {
            Thread { [self] in drain(lane: lane, of: max(lanes, 1)) }.start()
        }
    }

    private func drain(lane: Int, of lanes: Int) {
        var polls: [pollfd] = []
        var partial: [[UInt8]] = []
        var seen = 0
        var buffer = [UInt8](repeating: 0, count: 65536)
        while running.load(ordering: .relaxed) {
            // Sockets are only ever appended (until close): pick up this lane's new ones.
            let added = sockets.withLock { all -> [Int32] in
                defer { seen = all.count }
                return all.indices.dropFirst(seen).filter { $0 % lanes == lane }.map { all[$0] }
            }
            polls += added.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            partial += added.map { _ in [] }
            guard !polls.isEmpty else {
                usleep(20_000)
                continue
            }
            guard Glibc.poll(&polls, nfds_t(polls.count), 100) > 0 else { continue }
            for index in polls.indices where polls[index].revents != 0 {
                let n = recv(polls[index].fd, &buffer, buffer.count, Int32(MSG_DONTWAIT))
                guard n > 0 else {
                    if n == 0 {
                        polls[index].events = 0
                        ended.add(1, ordering: .relaxed)
                    }
                    continue
                }
                received.add(n, ordering: .relaxed)
                partial[index] += buffer[0..<n]
                var consumed = 0
                while let (opcode, payload, used) = RawWebSocket.header(partial[index], at: consumed) {
                    consumed += used
                    if opcode == 0x8 {
                        let code = payload.count >= 2 ? Int(partial[index][payload.lowerBound]) << 8 | Int(partial[index][payload.lowerBound + 1]) : 1005
                        closeCodes.withLock { $0[code, default: 0] += 1 }
                    }
                    guard opcode == 0x9 else { continue }
                    let pong = RawWebSocket.clientFrame(opcode: 0xA, Array(partial[index][payload]))
                    _ = pong.withUnsafeBytes { Glibc.send(polls[index].fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                }
                partial[index].removeFirst(consumed)
            }
        }
    }

    /// Stops draining and closes every socket.
    public func close() {
        running.store(false, ordering: .relaxed)
        usleep(150_000)
        for fd in sockets.withLock({ socketList in defer { socketList.removeAll() }; return socketList }) { Glibc.close(fd) }
    }

    private static func onThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            Thread { continuation.resume(with: Result { try body() }) }.start()
        }
    }

    /// Connects, upgrades with `token` and waits (up to 20 s) for the `hello` frame.
    static func openOne(port: Int, token: String) throws -> Int32 {
        let fd = try RawHTTP.connectLoopback(port: port)
        let out = RawWebSocket.upgradeRequest(token: token)
        _ = out.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        var input = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 4096)
        var upgraded = false
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline {
            if !upgraded, let end = RawWebSocket.find(input, [13, 10, 13, 10]) {
                let status = String(decoding: input[..<end], as: UTF8.self)
                guard status.hasPrefix("HTTP/1.1 101") else {
                    // The status line and the problem's body, as far as it has arrived.
                    usleep(50_000)
                    let more = recv(fd, &buffer, buffer.count, Int32(MSG_DONTWAIT))
                    if more > 0 { input += buffer[0..<more] }
                    Glibc.close(fd)
                    let body = String(decoding: input[(end + 4)...], as: UTF8.self)
                    throw ServerProcess.Failure("stream refused: \(status.prefix(while: { $0 != "\r" })) \(body.prefix(400))")
                }
                input.removeFirst(end + 4)
                upgraded = true
            }
            if upgraded, let (opcode, payload, _) = RawWebSocket.frame(input) {
                let text = String(decoding: payload, as: UTF8.self)
                guard opcode == 1, text.contains(#""type":"hello""#) else {
                    Glibc.close(fd)
                    throw ServerProcess.Failure("stream refused: \(text.prefix(120))")
                }
                return fd
            }
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard Glibc.poll(&p, 1, 200) > 0 else { continue }
            let n = recv(fd, &buffer, buffer.count, 0)
            if n <= 0 { break }
            input.append(contentsOf: buffer[0..<n])
        }
        Glibc.close(fd)
        throw ServerProcess.Failure("no hello within 20 s")
    }
}
