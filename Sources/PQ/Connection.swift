import CLibPQ
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// One libpq connection (`PGconn`).
///
/// Every method blocks the calling thread until libpq returns: call them only from a thread
/// that may block (the Database layer hops to its own thread pool), never from Swift's
/// cooperative pool or a NIO event loop.
///
/// The `PGconn` pointer lives inside a `Mutex`, so the type is `Sendable` by construction:
/// two threads can never be inside libpq with the same connection at once.
public final class Connection: Sendable {
    private let handle: Mutex<ConnHandle?>

    /// The server process id of this connection (for `pg_terminate_backend`, logs).
    public let backendPID: Int32

    private init(_ conn: OpaquePointer) {
        self.handle = Mutex(ConnHandle(pointer: conn))
        self.backendPID = PQbackendPID(conn)
    }

    deinit {
        finish()
    }

    /// TCP settings every connection gets unless its conninfo names them (they come before it,
    /// and libpq takes the last value of a key): a server that is gone without a word (a host
    /// that died, a failover that moved the address) is noticed within about a minute — after
    /// 30 s without traffic, three probes 10 s apart, or 60 s of data sent and not acknowledged
    /// — instead of the kernel's two hours of idleness or ~15 minutes of retransmission. A
    /// read waiting on such a connection fails then, rather than holding what waits on it (a
    /// brokerage's event reads, one at a time) for as long. Unix sockets ignore them.
    ///
    /// `connect_timeout` (10 s, sockets of either kind): libpq waits for ever by default, and a
    /// server that accepts the connection and never answers (a proxy in front of a dead server,
    /// a stopped postmaster) held the request that opened it, and a thread, for as long.
    public static let tcpDefaults: [(key: String, value: String)] = [
        ("keepalives", "1"), ("keepalives_idle", "30"), ("keepalives_interval", "10"), ("keepalives_count", "3"),
        ("tcp_user_timeout", "60000"), ("connect_timeout", "10"),
    ]

    /// Connects with a `postgresql://` URL or a `key=value` conninfo string.
    ///
    /// The session always uses UTF-8, ISO dates in UTC, and names itself `applicationName`;
    /// TCP settings it does not name are `tcpDefaults`.
    ///
    /// Its own server options come after the conninfo's `options` (or `PGOPTIONS`), which they
    /// used to replace: an operator's `-c statement_timeout=…` there is kept, and the time zone
    /// and date style are Parley's whatever it says (the later `-c` wins).
    public static func connect(_ conninfo: String, applicationName: String = "parley") throws -> Connection {
        let own = "-c TimeZone=UTC -c DateStyle=ISO"
        let given = optionsNamed(in: conninfo) ?? getenv("PGOPTIONS").map { String(cString: $0) }
        let options = given.map { $0.allSatisfy(\.isWhitespace) ? own : $0 + " " + own } ?? own
        let keywords = tcpDefaults.map(\.key) + ["dbname", "client_encoding", "application_name", "options"]
        let values = tcpDefaults.map(\.value) + [conninfo, "UTF8", applicationName, options]
        let conn = withCStrings(keywords) { keywordPointers in
            withCStrings(values) { valuePointers in
                PQconnectdbParams(keywordPointers, valuePointers, 1)
            }
        }
        guard let conn else {
            throw PQError(.connectionFailed, message: "libpq could not allocate a connection")
        }
        guard PQstatus(conn) == CONNECTION_OK else {
            let message = errorMessage(conn)
            PQfinish(conn)
            throw PQError(.connectionFailed, message: message)
        }
        // libpq prints server notices to stderr by default; they carry no information the
        // caller needs (errors arrive as results), so they are dropped.
        PQsetNoticeProcessor(conn, { _, _ in }, nil)
        return Connection(conn)
    }

    /// The `options` a conninfo string or URL names (`PQconninfoParse`), if any.
    static func optionsNamed(in conninfo: String) -> String? {
        var error: UnsafeMutablePointer<CChar>?
        guard let parsed = PQconninfoParse(conninfo, &error) else {
            if let error { PQfreemem(error) }
            return nil
        }
        defer { PQconninfoFree(parsed) }
        return value(of: "options", in: parsed)
    }

    /// The value of `key` in a libpq option array (`PQconninfo`, `PQconninfoParse`).
    static func value(of key: String, in options: UnsafeMutablePointer<PQconninfoOption>) -> String? {
        var option = options
        while let keyword = option.pointee.keyword {
            if String(cString: keyword) == key { return option.pointee.val.map { String(cString: $0) } }
            option += 1
        }
        return nil
    }

    /// The value of a connection option in effect (`PQconninfo`), or nil if it is not set.
    public func option(_ key: String) -> String? {
        handle.withLock { conn -> String? in
            guard let conn, let options = PQconninfo(conn.pointer) else { return nil }
            defer { PQconninfoFree(options) }
            return Self.value(of: key, in: options)
        }
    }

    /// Closes the connection. Idempotent; later calls on this connection fail with `.connectionLost`.
    public func finish() {
        handle.withLock { conn in
            if let conn { PQfinish(conn.pointer) }
            conn = nil
        }
    }

    /// True while libpq reports `CONNECTION_OK`.
    public var isConnected: Bool {
        handle.withLock { conn in conn.map { PQstatus($0.pointer) == CONNECTION_OK } ?? false }
    }

    /// Whether an idle connection (no query outstanding, not listening) is still usable, found
    /// without a round trip: libpq says `CONNECTION_OK` until it reads otherwise, so a backend
    /// terminated while the connection sat idle (a restart, a failover, `pg_terminate_backend`)
    /// looks alive. Its socket then holds the server's last message and the end of the stream.
    /// Such a connection expects no input at all, so any makes it unusable: reading the FATAL
    /// message alone leaves libpq's status OK until a second read meets the end, and what else
    /// could arrive (a notice, a reported setting changing) costs only a new connection. One
    /// non-blocking `poll`.
    public var isUsableWhenIdle: Bool {
        handle.withLock { conn in
            guard let pointer = conn?.pointer, PQstatus(pointer) == CONNECTION_OK else { return false }
            let socket = PQsocket(pointer)
            guard socket >= 0 else { return false }
            var descriptor = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
            let ready = poll(&descriptor, 1, 0)
            return ready == 0 || (ready < 0 && errno == EINTR)
        }
    }

    public enum TransactionStatus: Sendable {
        case idle, active, inTransaction, inFailedTransaction, unknown
    }

    /// Where the server session is with respect to transactions (`PQtransactionStatus`).
    public var transactionStatus: TransactionStatus {
        handle.withLock { conn in
            guard let conn else { return .unknown }
            switch PQtransactionStatus(conn.pointer) {
            case PQTRANS_IDLE: return .idle
            case PQTRANS_ACTIVE: return .active
            case PQTRANS_INTRANS: return .inTransaction
            case PQTRANS_INERROR: return .inFailedTransaction
            default: return .unknown
            }
        }
    }

    /// Runs `body` with the live `PGconn`, or throws `.connectionLost` after `finish()`.
    func withConn<T>(_ body: (OpaquePointer) throws -> T) throws -> T {
        try handle.withLock { conn in
            guard let conn else { throw PQError(.connectionLost, message: "connection is closed") }
            return try body(conn.pointer)
        }
    }

    static func errorMessage(_ conn: OpaquePointer) -> String {
        guard let text = PQerrorMessage(conn) else { return "unknown libpq error" }
        return String(cString: text).trimmingTrailingNewlines()
    }
}

/// The `PGconn` pointer. `@unchecked Sendable` is safe because the only stored instance lives
/// inside `Connection.handle`, a `Mutex`, and the pointer is used only while that lock is held
/// (`withConn`, `finish`, the status accessors): no two threads ever use it at once.
struct ConnHandle: @unchecked Sendable {
    let pointer: OpaquePointer
}

extension String {
    func trimmingTrailingNewlines() -> String {
        var text = self
        while text.last?.isNewline == true { text.removeLast() }
        return text
    }
}

/// Calls `body` with a NULL-terminated array of C strings that live for the call.
func withCStrings<T>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> T) -> T {
    let pointers = strings.map { strdup($0) }
    defer { pointers.forEach { free($0) } }
    let constPointers: [UnsafePointer<CChar>?] = pointers.map { $0.map { UnsafePointer($0) } } + [nil]
    return constPointers.withUnsafeBufferPointer { buffer in
        guard let base = buffer.baseAddress else { preconditionFailure("an array with a terminator has storage") }
        return body(base)
    }
}
