import DatabaseTesting
import Foundation
import NIOPosix
import PQ
import Synchronization
import Testing

@Suite("PQ: errors, notifications, lifecycle")
struct ErrorTests {
    @Test("every connection notices a server gone without a word within about a minute (TCP keepalives, user timeout), unless its conninfo says otherwise")
    func tcpDefaults() async throws {
        let conninfo = try await TestDatabase.shared.conninfo()
        let (defaults, overridden) = try await NIOThreadPool.singleton.runIfActive {
            let plain = try Connection.connect(conninfo)
            defer { plain.finish() }
            // The same settings named by the conninfo: its values win. (A URL takes them as
            // query parameters.)
            let own = conninfo.contains("://")
                ? conninfo + (conninfo.contains("?") ? "&" : "?") + "keepalives_idle=5&tcp_user_timeout=1000"
                : conninfo + " keepalives_idle=5 tcp_user_timeout=1000"
            let named = try Connection.connect(own)
            defer { named.finish() }
            return (["keepalives_idle", "keepalives_interval", "keepalives_count", "tcp_user_timeout", "connect_timeout"].map { plain.option($0) },
                    [named.option("keepalives_idle"), named.option("tcp_user_timeout"), named.option("keepalives_count")])
        }
        #expect(defaults == ["30", "10", "3", "60000", "10"])
        #expect(overridden == ["5", "1000", "3"])
    }

    @Test("server options the conninfo names are kept beside Parley's own, whose time zone and date style win")
    func optionsKept() async throws {
        let conninfo = try await TestDatabase.shared.conninfo()
        let settings = try await NIOThreadPool.singleton.runIfActive { () -> [String?] in
            let named = conninfo.contains("://")
                ? conninfo + (conninfo.contains("?") ? "&" : "?") + "options=-c%20statement_timeout%3D4321%20-c%20TimeZone%3DEurope/Paris"
                : conninfo + " options='-c statement_timeout=4321 -c TimeZone=Europe/Paris'"
            let connection = try Connection.connect(named)
            defer { connection.finish() }
            return try ["statement_timeout", "TimeZone", "DateStyle"].map { name in
                try connection.exec("SELECT current_setting('\(name)') AS v").rows.first?.decode(String.self, "v")
            }
        }
        #expect(settings == ["4321ms", "UTC", "ISO, MDY"])
    }

    @Test("connecting to a server that accepts and never answers fails within the connect timeout, not never")
    func silentServer() async throws {
        // A listening socket nobody accepts on: the kernel completes the handshake and takes the
        // startup packet, and no answer ever comes.
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #expect(listener >= 0)
        defer { close(listener) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, length) == 0 && listen(listener, 8) == 0
                && getsockname(listener, $0, &length) == 0 }
        }
        #expect(bound)
        let port = UInt16(bigEndian: address.sin_port)
        let started = ContinuousClock.now
        // Not awaited: without a timeout the connect never returns, and the test must still end.
        let result = Mutex<String?>(nil)
        // A thread of its own: the shared pool's few threads serve the other tests meanwhile.
        Thread.detachNewThread {
            let connection = try? Connection.connect("host=127.0.0.1 port=\(port) user=nobody dbname=nothing sslmode=disable")
            connection?.finish()
            result.withLock { $0 = connection == nil ? "failed" : "connected" }
        }
        var outcome: String?
        while outcome == nil, ContinuousClock.now - started < .seconds(25) {
            try await Task.sleep(for: .milliseconds(100))
            outcome = result.withLock { $0 }
        }
        #expect(outcome == "failed")
        #expect(ContinuousClock.now - started < .seconds(15))
    }

    @Test("a unique violation carries SQLSTATE 23505 and the constraint name")
    func uniqueViolation() async throws {
        let error = try await withRawConnection { connection -> PQError? in
            try connection.exec("CREATE TEMP TABLE people (email text CONSTRAINT people_email_key UNIQUE)")
            try connection.execParams("INSERT INTO people VALUES ($1)", [.text("a@example.com")])
            do {
                try connection.execParams("INSERT INTO people VALUES ($1)", [.text("a@example.com")])
                return nil
            } catch let error as PQError {
                return error
            }
        }
        let failure = try #require(error)
        #expect(failure.sqlState == .uniqueViolation)
        #expect(failure.kind == .server)
        #expect(failure.constraint == "people_email_key")
        // The safe description names the code, never the row data in the server's message.
        #expect(!failure.description.contains("a@example.com"))
    }

    @Test("a syntax error is a server error with its SQLSTATE and the connection stays usable")
    func syntaxError() async throws {
        let (state, after) = try await withRawConnection { connection in
            var state: SQLState?
            do { try connection.exec("SELEC 1") } catch let error as PQError { state = error.sqlState }
            return (state, try connection.execParams("SELECT 1 AS one", []).rows[0].decode(Int.self, "one"))
        }
        #expect(state == .syntaxError)
        #expect(after == 1)
    }

    @Test("LISTEN receives a NOTIFY sent by another connection")
    func listenNotify() async throws {
        let channel = "test_\(UInt32.random(in: 0...UInt32.max))"
        let conninfo = try await TestDatabase.shared.conninfo()
        let notifications = try await withRawConnection { listener in
            try listener.exec("LISTEN \(Identifier.quote(channel))")
            let sender = try Connection.connect(conninfo)
            defer { sender.finish() }
            try sender.execParams("SELECT pg_notify($1, $2)", [.text(channel), .text("payload 🏡")])
            #expect(sender.backendPID != listener.backendPID)
            var found: [PQNotification] = []
            let deadline = Date().addingTimeInterval(5)
            while found.isEmpty, Date() < deadline {
                _ = try listener.waitForInput(timeoutMilliseconds: 100)
                found += try listener.consumeNotifications()
            }
            return found
        }
        #expect(notifications.count == 1)
        #expect(notifications.first?.channel == channel)
        #expect(notifications.first?.payload == "payload 🏡")
    }

    @Test("finish() is idempotent and a finished connection reports connectionLost")
    func finishTwice() async throws {
        let error = try await withRawConnection { connection -> PQError? in
            connection.finish()
            connection.finish()
            do { try connection.exec("SELECT 1"); return nil } catch let error as PQError { return error }
        }
        #expect(error?.kind == .connectionLost)
    }

    @Test("connecting to nowhere fails with connectionFailed")
    func connectFailure() async throws {
        #expect {
            _ = try Connection.connect("host=/nonexistent-parley-socket-dir port=1 user=nobody connect_timeout=1")
        } throws: { error in
            (error as? PQError)?.kind == .connectionFailed
        }
    }
}

@Suite("PQ: batches")
struct BatchTests {
    @Test("execAll returns every statement's result in one round trip, and stops at an error")
    func execAll() async throws {
        let (results, state, after) = try await withRawConnection { connection in
            let results = try connection.execAll("SELECT 1 AS a; SELECT 'two' AS b, 3 AS c; CREATE TEMP TABLE t (v int)")
            var state: SQLState?
            do { _ = try connection.execAll("SELECT 1; SELECT 1/0; SELECT 3") } catch let error as PQError { state = error.sqlState }
            return (results, state, try connection.execAll("SELECT 4 AS d")[0].rows[0].decode(Int.self, "d"))
        }
        #expect(results.count == 3)
        #expect(try results[0].rows[0].decode(Int.self, "a") == 1)
        #expect(try results[1].rows[0].decode(String.self, "b") == "two")
        #expect(results[2].commandTag == "CREATE TABLE")
        #expect(state == .divisionByZero)
        #expect(after == 4)
    }
}
