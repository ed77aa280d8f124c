import CLibPQ

#if canImport(Glibc)
import Glibc
#endif

/// An asynchronous notification received after `LISTEN` (`PGnotify`).
public struct PQNotification: Sendable, Hashable {
    public let channel: String
    public let payload: String
    /// The server process that sent it.
    public let senderPID: Int32
}

extension Connection {
    /// Reads whatever input has arrived (`PQconsumeInput`) and returns the queued notifications.
    /// Throws `.connectionLost` if the connection broke.
    public func consumeNotifications() throws -> [PQNotification] {
        try withConn { conn in
            guard PQconsumeInput(conn) == 1 else {
                throw PQError(.connectionLost, message: Self.errorMessage(conn))
            }
            var notifications: [PQNotification] = []
            while let pointer = PQnotifies(conn) {
                let notify = pointer.pointee
                notifications.append(PQNotification(
                    channel: notify.relname.map { String(cString: $0) } ?? "",
                    payload: notify.extra.map { String(cString: $0) } ?? "",
                    senderPID: notify.be_pid))
                PQfreemem(pointer)
            }
            return notifications
        }
    }

    /// Blocks until the connection's socket is readable or `timeoutMilliseconds` pass.
    /// Returns true when there is input to consume.
    public func waitForInput(timeoutMilliseconds: Int32) throws -> Bool {
        let socket = try withConn { conn in PQsocket(conn) }
        guard socket >= 0 else { throw PQError(.connectionLost, message: "connection has no socket") }
        // poll() runs outside the lock so `finish()` from another thread is not held up.
        var descriptor = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
        let ready = poll(&descriptor, 1, timeoutMilliseconds)
        if ready < 0 {
            if errno == EINTR { return false }
            throw PQError(.connectionLost, message: "poll failed: errno \(errno)")
        }
        return ready > 0
    }
}

extension Connection {
    /// A round trip with a deadline on an otherwise idle connection (the LISTEN one): sends an
    /// empty query and waits for the server's answer, collecting notifications that arrive
    /// meanwhile. A connection whose peer is gone without a FIN (half-open: a dead host, a
    /// dropped route, a stopped backend) never answers: after `timeoutMilliseconds` this throws
    /// `.connectionLost` instead of waiting for TCP to notice, which can take hours.
    public func roundTrip(timeoutMilliseconds: Int32) throws -> [PQNotification] {
        try withConn { conn in
            guard PQsendQuery(conn, "") == 1 else { throw PQError(.connectionLost, message: Self.errorMessage(conn)) }
        }
        let deadline = ContinuousClock.now + .milliseconds(Int(timeoutMilliseconds))
        var notifications: [PQNotification] = []
        while true {
            notifications += try consumeNotifications()
            // Every result of the empty query is read once it can be without blocking.
            let finished = try withConn { conn -> Bool in
                while PQisBusy(conn) == 0 {
                    guard let result = PQgetResult(conn) else { return true }
                    PQclear(result)
                }
                return false
            }
            // Reading the results parsed whatever else had arrived: notifications after the
            // last look would otherwise wait in libpq until the socket next has input.
            if finished { return notifications + (try consumeNotifications()) }
            let remaining = deadline - ContinuousClock.now
            guard remaining > .zero else {
                throw PQError(.connectionLost, message: "no answer from the server within \(timeoutMilliseconds) ms")
            }
            let (seconds, attoseconds) = remaining.components
            _ = try waitForInput(timeoutMilliseconds: Int32(min(Int64(timeoutMilliseconds), seconds * 1000 + attoseconds / 1_000_000_000_000_000 + 1)))
        }
    }
}
