import API
import Database
import DatabaseTesting
import Domain
import Foundation
import Logging
import NIOPosix
import ParleyTesting
import Synchronization
import Testing

/// Fault tests against real `parley serve` processes: killed with -9, two of them on one
/// database, PostgreSQL stopped and started under them. Clients behave as apps should: a send
/// is retried with its client message id until acknowledged, and a stream that ends is
/// reopened with the last event id it processed. Afterwards every message exists once, `seq`
/// has no gap, and every stream saw every message of its session exactly once, in order.
@Suite("Faults: killed servers, several servers, PostgreSQL restarts", .serialized)
struct FaultTests {
    @Test("kill -9 of the server during a 20 s send load: nothing lost, nothing twice, streams resume cleanly")
    func killDuringLoad() async throws { try await HeavyTest.run { try await self.killDuringLoadAlone() } }

    private func killDuringLoadAlone() async throws {
        let conninfo = try await TestDatabase.shared.makeScratchDatabase()
        let servers = Servers(try await ServerProcess.start(conninfo: conninfo))
        let database = Database(configuration: .init(conninfo: conninfo, maxConnections: 2), logger: testLogger)
        let load = try await ConversationLoad.make(database: database, sessions: 4, servers: servers)
        let started = ContinuousClock.now
        let running = Task { try await load.run(for: .seconds(20)) }
        try await Task.sleep(for: .seconds(7))
        let victim = try #require(servers.all.first)
        await victim.killHard()
        let replacement = try await ServerProcess.start(conninfo: conninfo, port: victim.port)
        servers.replace(victim, with: replacement)
        try await running.value
        #expect(ContinuousClock.now - started >= .seconds(20))
        try await load.verify()
        await replacement.stop()
        await database.close()
    }

    @Test("two server processes, clients spread over both, 1,000 concurrent sends: exactly once everywhere; a client moved mid-stream resumes cleanly")
    func twoServers() async throws { try await HeavyTest.run { try await self.twoServersAlone() } }

    private func twoServersAlone() async throws {
        let conninfo = try await TestDatabase.shared.makeScratchDatabase()
        let first = try await ServerProcess.start(conninfo: conninfo)
        let second = try await ServerProcess.start(conninfo: conninfo)
        let servers = Servers(first, second)
        let database = Database(configuration: .init(conninfo: conninfo, maxConnections: 2), logger: testLogger)
        let load = try await ConversationLoad.make(database: database, sessions: 10, servers: servers, moveAfter: 30)
        try await load.run(messagesPerSession: 100)
        try await load.verify()
        #expect(load.totalSent == 1000)
        #expect(load.moves >= 1)
        await first.stop()
        await second.stop()
        await database.close()
    }

    @Test("PostgreSQL stopped and started during load: /ready is 503 while it is down, the server recovers within 10 s, nothing lost or repeated")
    func databaseRestart() async throws { try await HeavyTest.run { try await self.databaseRestartAlone() } }

    private func databaseRestartAlone() async throws {
        let root = try makeTemporaryFolder("/tmp/pgf-")
        let cluster = try EmbeddedCluster(root: root, databaseName: "parley_fault", ephemeral: true, logger: testLogger)
        try await blocking { _ = try cluster.start() }
        defer {
            try? cluster.stop(immediate: true)
            try? FileManager.default.removeItem(atPath: root)
        }
        let setup = Database(configuration: .init(conninfo: cluster.conninfo, maxConnections: 2), logger: testLogger)
        try await Migrator(database: setup, logger: testLogger).migrateControl()
        let server = try await ServerProcess.start(conninfo: cluster.conninfo)
        defer { server.killNow() }
        let load = try await ConversationLoad.make(database: setup, sessions: 3, servers: Servers(server))
        let running = Task { try await load.run(for: .seconds(16)) }
        try await Task.sleep(for: .seconds(4))
        try await blocking { try cluster.stop() }
        var sawNotReady = false
        for _ in 0..<30 where !sawNotReady {
            sawNotReady = try await server.readyStatus() == 503
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(sawNotReady, "/ready must say 503 while PostgreSQL is down")
        try await Task.sleep(for: .seconds(2))
        try await blocking { _ = try cluster.start() }
        let back = ContinuousClock.now
        try await server.waitReady(within: .seconds(10))
        #expect(ContinuousClock.now - back < .seconds(10))
        try await running.value
        try await load.verify()
        await setup.close()
    }

    @Test("a dump and restore into a new cluster keeps every cursor: a client resumes there with its last event id and misses nothing")
    func cursorsSurviveRestore() async throws { try await HeavyTest.run { try await self.cursorsSurviveRestoreAlone() } }

    private func cursorsSurviveRestoreAlone() async throws {
        let source = try await TestDatabase.shared.makeScratchDatabase()
        let database = Database(configuration: .init(conninfo: source, maxConnections: 2), logger: testLogger)
        let servers = Servers(try await ServerProcess.start(conninfo: source))
        let load = try await ConversationLoad.make(database: database, sessions: 1, servers: servers)
        try await load.run(messagesPerSession: 5)
        let conversation = try #require(load.conversations.first)
        // The client's last cursor on the old cluster.
        let before = try await TestStream.connect(port: servers.pick(0).port, token: conversation.client, query: "after=0")
        var cursor = ""
        while let frame = await before.next(timeout: .seconds(2)) { if let id = frame.id { cursor = id } }
        await before.close()
        await servers.pick(0).stop()

        let root = try makeTemporaryFolder("/tmp/pgr-")
        let cluster = try EmbeddedCluster(root: root, databaseName: "parley_restored", ephemeral: true, logger: testLogger)
        try await blocking { _ = try cluster.start() }
        defer {
            try? cluster.stop(immediate: true)
            try? FileManager.default.removeItem(atPath: root)
        }
        // pg_dump and pg_restore of the same PostgreSQL as the server binaries (pg_ctl may be a
        // link on PATH).
        let bin = URL(fileURLWithPath: try EmbeddedCluster.findServerBinaries() + "/pg_ctl").resolvingSymlinksInPath().deletingLastPathComponent().path
        let schema = load.tenant.scope.schema.rawValue
        let dump = root + "/tenant.dump"
        // The control schema, this brokerage's schema and `public` (with the extensions they
        // use); the brokerage's role first, as a role dump would bring it.
        #expect(try await blocking {
            try ServerProcess.run([bin + "/pg_dump", "-d", source, "-Fc", "-n", "public", "-n", "parley", "-n", schema, "-e", "unaccent", "-e", "pg_trgm", "-f", dump], logPath: root + "/dump.log")
        } == 0)
        let restored = Database(configuration: .init(conninfo: cluster.conninfo, maxConnections: 1), logger: testLogger)
        try await restored.withConnection { connection in
            // The dump brings `public` (the text search configuration) itself.
            _ = try await connection.simpleQuery("CREATE ROLE \(load.tenant.scope.role.quoted) NOLOGIN; DROP SCHEMA public")
        }
        await restored.close()
        #expect(try await blocking {
            try ServerProcess.run([bin + "/pg_restore", "-d", cluster.conninfo, dump], logPath: root + "/restore.log")
        } == 0)
        // Brokerage roles use `public` (the text search configuration, unaccent, pg_trgm) through
        // the USAGE every database's `public` grants to all. A whole-database restore (the one
        // docs/DEPLOY.md gives) keeps that grant; here `public` was dropped and re-created by the
        // restore, which creates it without, so it is given back as the operator would.
        let grant = Database(configuration: .init(conninfo: cluster.conninfo, maxConnections: 1), logger: testLogger)
        try await grant.withConnection { connection in _ = try await connection.simpleQuery("GRANT USAGE ON SCHEMA public TO PUBLIC") }
        await grant.close()

        let server = try await ServerProcess.start(conninfo: cluster.conninfo)
        defer { server.killNow() }
        for index in 6...7 {
            let status = try await server.withClient { http in
                try await http.json(.post, "/v1/sessions/\(conversation.sessionID)/messages", token: conversation.agent,
                                    body: ["clientMessageId": "m\(index)", "text": "after the restore \(index)"]).status
            }
            #expect(status == .created)
        }
        let after = try await TestStream.connect(port: server.port, token: conversation.client, query: "after=\(cursor)")
        #expect(await after.next()?.type == "hello")
        var seqs: [Int64] = []
        while let frame = await after.next(timeout: .seconds(3)) {
            #expect(frame.type == "event", "\(frame.text)")
            if frame.event == "message.created" { seqs.append(try frame.data(Message.self).seq) }
        }
        #expect(seqs == [6, 7])
        await after.close()
        // Search works on the restored cluster too, for the messages from before and after.
        for (word, expected) in [("restore", 1), ("zzzunknownword", 0)] {
            let found = try await server.withClient { http in
                try await http.json(.get, "/v1/search?q=\(word)", token: conversation.agent).items(SearchStore.Result.self)
            }
            #expect(found.map(\.session.id) == Array(repeating: conversation.sessionID, count: expected), "q=\(word)")
        }
        await database.close()
    }
}

/// The servers clients may use; a killed one is replaced at the same port.
final class Servers: Sendable {
    private let list: Mutex<[ServerProcess]>

    init(_ servers: ServerProcess...) { list = Mutex(servers) }

    var all: [ServerProcess] { list.withLock { $0 } }

    func pick(_ index: Int) -> ServerProcess {
        list.withLock { $0[index % $0.count] }
    }

    func replace(_ old: ServerProcess, with new: ServerProcess) {
        list.withLock { servers in servers = servers.map { $0.pid == old.pid ? new : $0 } }
    }
}

/// One agent and one client per session. Writers (the agents) send with client message ids and
/// retry until acknowledged; readers (the clients) keep a stream open and resume with their
/// last event id whenever it ends.
final class ConversationLoad: Sendable {
    struct Conversation: Sendable {
        let agent: String
        let client: String
        let sessionID: String
    }

    let tenant: TestTenant
    let database: Database
    let servers: Servers
    let conversations: [Conversation]
    /// After this many messages the first client closes its stream and resumes on the next server.
    let moveAfter: Int?
    private let acknowledged: Mutex<[Int]>
    private let received: Mutex<[[Int64]]>
    private let moveCount = Mutex(0)
    private let finished = Mutex(false)

    private init(tenant: TestTenant, database: Database, servers: Servers, conversations: [Conversation], moveAfter: Int?) {
        self.tenant = tenant
        self.database = database
        self.servers = servers
        self.conversations = conversations
        self.moveAfter = moveAfter
        acknowledged = Mutex(Array(repeating: 0, count: conversations.count))
        received = Mutex(Array(repeating: [], count: conversations.count))
    }

    static func make(database: Database, sessions: Int, servers: Servers, moveAfter: Int? = nil) async throws -> ConversationLoad {
        let tenant = try await TestTenant.make(database)
        var conversations: [Conversation] = []
        for index in 0..<sessions {
            let agent = try await tenant.token(sub: "agent-\(index)", role: .agent, ttl: .seconds(3600))
            let client = try await tenant.token(sub: "client-\(index)", role: .client, ttl: .seconds(3600))
            let created = try await servers.pick(index).withClient { http in
                try await http.json(.post, "/v1/sessions", token: agent, body: ["client": ["userId": "client-\(index)", "name": "Client \(index)"]])
            }
            conversations.append(Conversation(agent: agent, client: client, sessionID: try created.decode(Session.self).id))
        }
        return ConversationLoad(tenant: tenant, database: database, servers: servers, conversations: conversations, moveAfter: moveAfter)
    }

    var totalSent: Int { acknowledged.withLock { $0.reduce(0, +) } }
    var moves: Int { moveCount.withLock { $0 } }

    /// Sends for `duration` (or `messagesPerSession` each), then waits until every stream has
    /// seen every acknowledged message (at most 30 s).
    func run(for duration: Duration? = nil, messagesPerSession: Int? = nil) async throws {
        let deadline = duration.map { ContinuousClock.now + $0 }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in conversations.indices {
                group.addTask { await self.read(index) }
            }
            try await withThrowingTaskGroup(of: Void.self) { writers in
                for index in conversations.indices {
                    writers.addTask {
                        var sequence = 0
                        while true {
                            if let deadline, ContinuousClock.now >= deadline { return }
                            if let messagesPerSession, sequence >= messagesPerSession { return }
                            sequence += 1
                            try await self.send(index, sequence)
                            // A timed load is paced (it shares two cores with the rest of the suite).
                            if deadline != nil { try await Task.sleep(for: .milliseconds(20)) }
                        }
                    }
                }
                try await writers.waitForAll()
            }
            let settle = ContinuousClock.now + .seconds(30)
            while ContinuousClock.now < settle, !allReceived { try await Task.sleep(for: .milliseconds(100)) }
            finished.withLock { $0 = true }
            try await group.waitForAll()
        }
    }

    private var allReceived: Bool {
        let counts = acknowledged.withLock { $0 }
        return received.withLock { received in zip(received, counts).allSatisfy { Set($0.0).count >= $0.1 } }
    }

    /// One message, retried (new connection, any server) until the server acknowledges it.
    private func send(_ index: Int, _ sequence: Int) async throws {
        let conversation = conversations[index]
        var attempt = 0
        while true {
            attempt += 1
            let status = try? await servers.pick(index + attempt).withClient { http in
                try await http.json(.post, "/v1/sessions/\(conversation.sessionID)/messages", token: conversation.agent,
                                    body: ["clientMessageId": "m\(sequence)", "text": "message \(sequence)"]).status.code
            }
            if status == 201 || status == 200 {
                acknowledged.withLock { $0[index] = sequence }
                return
            }
            guard attempt < 600 else { throw ServerProcess.Failure("message \(sequence) never acknowledged; last status \(String(describing: status))") }
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    /// The client's stream: reopened with `after=<last event id>` whenever it ends.
    private func read(_ index: Int) async {
        let stop = { self.finished.withLock { $0 } }
        let conversation = conversations[index]
        // The tenant is new: from position 0 the stream replays everything, so a message sent
        // before this socket first connected is not missed.
        var cursor = "0"
        var server = index
        var sinceConnect = 0
        while !stop() {
            let stream = try? await TestStream.connect(
                port: servers.pick(server).port, token: conversation.client, query: "after=\(cursor)")
            guard let stream else {
                try? await Task.sleep(for: .milliseconds(200))
                continue
            }
            sinceConnect = 0
            while !stop() {
                guard let frame = await stream.next(timeout: .milliseconds(500)) else {
                    if stream.isClosed { break }
                    continue
                }
                guard frame.type == "event" else { continue }
                if let id = frame.id { cursor = id }
                guard frame.event == "message.created", let message = try? frame.data(Message.self) else { continue }
                received.withLock { $0[index].append(message.seq) }
                sinceConnect += 1
                if index == 0, let moveAfter, sinceConnect == moveAfter {
                    // Moved to another server mid-stream, resuming from the last event processed.
                    moveCount.withLock { $0 += 1 }
                    server += 1
                    break
                }
            }
            await stream.close()
            if !stop() { try? await Task.sleep(for: .milliseconds(100)) }
        }
    }

    /// Every acknowledged message exists once, `seq` is 1…n per session, and each client's
    /// stream saw 1…n once each, in order.
    func verify() async throws {
        let counts = acknowledged.withLock { $0 }
        let seen = received.withLock { $0 }
        for (index, conversation) in conversations.enumerated() {
            let stored = try await database.withTenant(tenant.scope) { tx in
                try await tx.query("SELECT seq, client_message_id FROM messages WHERE session_id = $1::uuid ORDER BY seq", [conversation.sessionID])
                    .rows.map { (try $0.decode(Int64.self, "seq"), try $0.decode(String.self, "client_message_id")) }
            }
            #expect(counts[index] > 0)
            let expected = Array(1...Int64(max(counts[index], 1)))
            #expect(stored.map(\.0) == expected, "session \(index): \(stored.count) messages stored for \(counts[index]) acknowledged")
            #expect(Set(stored.map(\.1)).count == stored.count, "session \(index): a client message id stored twice")
            let missing = Set(expected).subtracting(seen[index]).sorted()
            let repeated = seen[index].count - Set(seen[index]).count
            #expect(seen[index] == expected, "stream \(index): \(seen[index].count) received, missing \(missing.prefix(10)), \(repeated) repeated, in order: \(seen[index] == seen[index].sorted())")
        }
    }
}

func blocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await NIOThreadPool.singleton.runIfActive(body)
}

func makeTemporaryFolder(_ prefix: String) throws -> String {
    var template = Array((prefix + "XXXXXX").utf8CString)
    guard let made = mkdtemp(&template) else { throw ServerProcess.Failure("mkdtemp failed") }
    return String(cString: made)
}
