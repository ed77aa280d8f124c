import Database
import DatabaseTesting
import Domain
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import ParleyTesting
import Testing

/// Message retention (issue 17, point 3).
@Suite("Retention: old messages, their files, search terms and events")
struct RetentionTests {
    @Test("the maintenance pass numbers a backlog of any size for a brokerage nobody streams")
    func numbersWholeBacklog() async throws {
        try await TestApp.run { app, client in
            let pair = try await Pair.make(app, client)
            #expect(try await pair.send(client, "before the backlog").status == .created)
            // 25,000 events committed with no stream open: more than one run of the sequencer.
            try await app.database.withTenant(pair.tenant.scope) { tx in
                _ = try await tx.query("""
                    INSERT INTO event_outbox (type, session_id, recipients, data)
                    SELECT 'session.updated', $1::uuid, ARRAY['agent-1'], jsonb_build_object('n', g) FROM generate_series(1, 25000) g
                    """, [pair.sessionID])
            }
            _ = try await EventLog.trim(app.database, pair.tenant.tenant)
            let (outbox, events, positions) = try await app.database.withTenant(pair.tenant.scope) { tx in
                let row = try await tx.query("""
                    SELECT (SELECT count(*) FROM event_outbox) AS outbox, (SELECT count(*) FROM events) AS events,
                           (SELECT max(pos) - min(pos) + 1 FROM events) AS positions
                    """).rows[0]
                return (try row.decode(Int64.self, "outbox"), try row.decode(Int64.self, "events"), try row.decode(Int64.self, "positions"))
            }
            #expect(outbox == 0)
            #expect(events >= 25_000)
            #expect(positions == events, "positions stay gap-free")
            // Caught up: the next pass finds nothing more, and says where the brokerage is.
            let head = try await app.database.withTenant(pair.tenant.scope) { tx in
                try await tx.query("SELECT max(pos) AS head FROM events").rows[0].decode(Int64.self, "head")
            }
            #expect(try await EventLog.catchUp(app.database, pair.tenant.tenant) == head)
        }
    }

    @Test("with messageRetentionDays set, older messages go with their attachments' bytes, search terms and events; newer ones and other brokerages stay")
    func retention() async throws {
        try await TestApp.run { app, client in
            let pair = try await Pair.make(app, client)
            let other = try await Pair.make(app, client)
            // Old: two messages and a file, in this brokerage and in another one (no retention there).
            #expect(try await pair.send(client, "ancient garden party").status == .created)
            let file = try await AttachmentTests.uploaded(client, pair.agent, session: pair.sessionID, ("plan.png", Samples.png(width: 3, height: 2)))
            #expect(try await client.json(.post, "/v1/sessions/\(pair.sessionID)/messages", token: pair.agent,
                                          body: ["clientMessageId": "f", "text": "", "attachmentIds": [file]]).status == .created)
            #expect(try await other.send(client, "ancient garden elsewhere").status == .created)
            for tenant in [pair.tenant, other.tenant] {
                try await app.database.withTenant(tenant.scope) { tx in
                    _ = try await tx.query("SELECT sequence_events()")
                    for table in ["messages", "sessions", "events", "attachments"] {
                        try await tx.query("UPDATE \(table) SET created_at = created_at - interval '3 days'")
                    }
                }
            }
            // New: after the backdating.
            #expect(try await pair.send(client, "fresh orchard news").status == .created)
            let usageBefore = try await app.dependencies.tenants.storageUsage(pair.tenant.tenant)
            #expect(usageBefore > 0)

            // Off by default: nothing happens.
            #expect(try await app.dependencies.retention.trim(try #require(try await app.dependencies.tenants.find(pair.tenant.slug))) == 0)
            #expect(try await client.json(.patch, "/v1/tenants/\(pair.tenant.slug)/settings", token: app.operatorKey,
                                          body: ["messageRetentionDays": 1]).status == .ok)
            let tenant = try #require(try await app.dependencies.tenants.find(pair.tenant.slug))
            // One batch a call at most here: the rest waits for the next maintenance pass.
            #expect(try await app.dependencies.retention.trim(tenant, batch: 1, maxBatches: 1) == 1)
            #expect(try await app.dependencies.retention.trim(tenant, batch: 1) == 1)

            let history = try await client.json(.get, "/v1/sessions/\(pair.sessionID)/messages", token: pair.agent).items(Message.self)
            #expect(history.map(\.text) == ["fresh orchard news"])
            #expect(try await AttachmentTests.download(client, pair.agent, file).status == .notFound)
            #expect(try await app.dependencies.tenants.storageUsage(tenant) == 0)
            let bytes = try await app.database.withTenant(tenant.scope) { tx in
                try await tx.query("SELECT count(*) AS n FROM blob_chunks").rows[0].decode(Int.self, "n")
            }
            #expect(bytes == 0)
            #expect(try await SearchTests.found(client, pair.agent, "garden").isEmpty)
            #expect(try await SearchTests.found(client, pair.agent, "orchard") == [pair.sessionID])
            let (terms, oldEvents) = try await app.database.withTenant(tenant.scope) { tx in
                (try await tx.query("SELECT count(*) AS n FROM session_terms WHERE lexeme = 'garden'").rows[0].decode(Int.self, "n"),
                 try await tx.query("SELECT count(*) AS n FROM events WHERE created_at < now() - interval '1 day'").rows[0].decode(Int.self, "n"))
            }
            #expect(terms == 0 && oldEvents == 0)
            // The session stays, with its newest message as its preview.
            let session = try await client.json(.get, "/v1/sessions/\(pair.sessionID)", token: pair.agent).decode(Session.self)
            #expect(session.lastMessage?.preview == "fresh orchard news" && session.lastSeq == 3)
            // The other brokerage keeps everything.
            let kept = try await client.json(.get, "/v1/sessions/\(other.sessionID)/messages", token: other.agent).items(Message.self)
            #expect(kept.map(\.text) == ["ancient garden elsewhere"])
            #expect(try await SearchTests.found(client, other.agent, "garden") == [other.sessionID])
        }
    }
}
