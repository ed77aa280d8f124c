import Foundation
import PQ
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A TCP proxy on 127.0.0.1 in front of the test PostgreSQL server, for fault tests that need
/// a half-open connection: `stallExisting()` makes every connection made so far stop carrying
/// bytes in either direction while its sockets stay open (no FIN, no RST), exactly what a
/// client sees when the server's host dies or a route drops. Connections made afterwards work.
///
/// Stopping a PostgreSQL backend with SIGSTOP looks the same from the client, but a stopped
/// backend can hold shared locks or miss a ProcSignal barrier and stall other backends of the
/// cluster, which every test shares; the proxy stalls only the one client.
///
/// Each direction of each connection is copied by a blocking thread (tests only).
public final class StallingProxy: Sendable {
    /// Where the proxy listens; give it to libpq as `host=127.0.0.1 port=<port>`.
    public let port: Int
    private let listener: Int32
    private let upstream: Upstream
    private let state = Mutex(State())

    private struct State {
        var generation = 0
        var stalledBefore = 0
        var sockets: [Int32] = []
        var closed = false
    }

    enum Upstream: Sendable {
        case unix(String)
        case tcp(String, Int)
    }

    /// A proxy to the server behind `TestDatabase.shared` (found by asking it where it is).
    public static func start() async throws -> StallingProxy {
        let upstream = try await withRawConnection { connection -> Upstream in
            let row = try connection.exec("""
                SELECT coalesce(host(inet_server_addr()), '') AS addr, current_setting('port') AS port,
                       split_part(current_setting('unix_socket_directories'), ',', 1) AS dir
                """).rows[0]
            let address = try row.decode(String.self, "addr")
            let port = Int(try row.decode(String.self, "port")) ?? 5432
            if address.isEmpty {
                return .unix("\(try row.decode(String.self, "dir").trimmingCharacters(in: .whitespaces))/.s.PGSQL.\(port)")
            }
            return .tcp(address, port)
        }
        return try StallingProxy(upstream: upstream)
    }

    init(upstream: Upstream) throws {
        self.upstream = upstream
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ProxyError("socket: errno \(errno)") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        guard bound == 0, listen(fd, 16) == 0 else { Glibc.close(fd); throw ProxyError("bind/listen: errno \(errno)") }
        let named = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard named == 0 else { Glibc.close(fd); throw ProxyError("getsockname: errno \(errno)") }
        listener = fd
        port = Int(UInt16(bigEndian: address.sin_port))
        let thread = Thread { [self] in acceptLoop() }
        thread.name = "parley-test-proxy"
        thread.start()
    }

    /// `conninfo` (key=value or URL) pointed at the proxy.
    public func conninfo(_ conninfo: String) -> String {
        guard conninfo.hasPrefix("postgres://") || conninfo.hasPrefix("postgresql://"), var url = URLComponents(string: conninfo) else {
            return conninfo + " host=127.0.0.1 port=\(port)"
        }
        url.host = "127.0.0.1"
        url.port = port
        url.queryItems = url.queryItems?.filter { $0.name != "host" && $0.name != "port" }
        return url.string ?? conninfo
    }

    /// Every connection made until now stops carrying bytes (and never closes until `close`).
    public func stallExisting() {
        state.withLock { $0.stalledBefore = $0.generation }
    }

    /// Closes the listening socket and every connection.
    public func close() {
        let sockets = state.withLock { state -> [Int32] in
            state.closed = true
            defer { state.sockets = [] }
            return state.sockets
        }
        for fd in sockets { shutdown(fd, Int32(SHUT_RDWR)) }
        shutdown(listener, Int32(SHUT_RDWR))
        Glibc.close(listener)
    }

    private func acceptLoop() {
        while true {
            let client = accept(listener, nil, nil)
            if client < 0 {
                if errno == EINTR { continue }
                return
            }
            guard let server = try? connectUpstream() else { Glibc.close(client); continue }
            let generation = state.withLock { state -> Int? in
                if state.closed { return nil }
                state.generation += 1
                state.sockets += [client, server]
                return state.generation
            }
            guard let generation else { Glibc.close(client); Glibc.close(server); return }
            for (from, to) in [(client, server), (server, client)] {
                let thread = Thread { [self] in copy(from: from, to: to, generation: generation) }
                thread.start()
            }
        }
    }

    private func copy(from: Int32, to: Int32, generation: Int) {
        var buffer = [UInt8](repeating: 0, count: 16 * 1024)
        while true {
            var descriptor = pollfd(fd: from, events: Int16(POLLIN), revents: 0)
            let ready = poll(&descriptor, 1, 100)
            let (stalled, closed) = state.withLock { ($0.stalledBefore >= generation, $0.closed) }
            if closed { break }
            // Stalled: bytes stay unread in the kernel; the peer sees an open, silent socket.
            if stalled || ready <= 0 { continue }
            let count = read(from, &buffer, buffer.count)
            if count <= 0 { break }
            var sent = 0
            while sent < count {
                let written = buffer[sent..<count].withUnsafeBytes { write(to, $0.baseAddress, $0.count) }
                if written <= 0 { break }
                sent += written
            }
        }
        shutdown(to, Int32(SHUT_WR))
    }

    private func connectUpstream() throws -> Int32 {
        switch upstream {
        case .unix(let path):
            let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { throw ProxyError("socket: errno \(errno)") }
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            let bytes = Array(path.utf8)
            guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { Glibc.close(fd); throw ProxyError("socket path too long") }
            withUnsafeMutableBytes(of: &address.sun_path) { raw in
                for (index, byte) in bytes.enumerated() { raw[index] = byte }
            }
            let connected = withUnsafePointer(to: &address) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
            guard connected == 0 else { Glibc.close(fd); throw ProxyError("connect \(path): errno \(errno)") }
            return fd
        case .tcp(let host, let port):
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { throw ProxyError("socket: errno \(errno)") }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr(host)
            address.sin_port = UInt16(port).bigEndian
            let connected = withUnsafePointer(to: &address) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard connected == 0 else { Glibc.close(fd); throw ProxyError("connect \(host):\(port): errno \(errno)") }
            return fd
        }
    }
}

struct ProxyError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
