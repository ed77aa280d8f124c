import Crypto
import Database
import DatabaseTesting
import Domain
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import ParleyTesting
import Testing

/// A brokerage's data out and gone (issue 17, point 4).
@Suite("Tenants: export, delete, import")
struct TenantLifecycleTests {
    @Test("export → delete → import gives the same API answers, and tokens signed before work again; delete leaves no schema, role or control row")
    func exportDeleteImport() async throws {
        try await TestApp.run { app, client in
            let pair = try await Pair.make(app, client)
            for text in ["Hello Maria", "The loft on Harbor Way is still available"] {
                #expect(try await pair.send(client, text).status == .created)
            }
            #expect(try await client.json(.post, "/v1/sessions/\(pair.sessionID)/messages", token: pair.client, body: [
                "clientMessageId": "c1", "text": "Can I see it Saturday?",
                "listing": ["ListingKey": "L-7", "address": "12 Harbor Way", "listPrice": 850000],
            ]).status == .created)
            let image = Samples.png(width: 5, height: 4)
            let file = try await AttachmentTests.uploaded(client, pair.agent, session: pair.sessionID, ("plan.png", image))
            #expect(try await client.json(.post, "/v1/sessions/\(pair.sessionID)/messages", token: pair.agent,
                                          body: ["clientMessageId": "a-file", "text": "Floor plan", "attachmentIds": [file]]).status == .created)
            #expect(try await client.json(.post, "/v1/sessions/\(pair.sessionID)/read", token: pair.client, body: ["upTo": 2]).status == .ok)
            #expect(try await ChatRequestTests.submit(client, pair.tenant, ChatRequestTests.visitor).status == .created)
            #expect(try await client.json(.put, "/v1/directory/agents/agent-1", token: try await pair.tenant.integrationToken(),
                                          body: ["MemberFullName": "Avery Agent", "listed": true]).status == .created)

            func answers() async throws -> [String] {
                var texts: [String] = []
                for (path, token) in [
                    ("/v1/sessions", pair.agent), ("/v1/sessions/\(pair.sessionID)/messages", pair.agent),
                    ("/v1/sessions/\(pair.sessionID)/messages", pair.client), ("/v1/contacts", pair.agent),
                    ("/v1/chat-requests", pair.agent), ("/v1/badge", pair.agent), ("/v1/badge", pair.client),
                    ("/v1/directory/me", pair.agent), ("/v1/search?q=harbor", pair.agent),
                ] {
                    let response = try await client.json(.get, path, token: token)
                    texts.append("\(path) \(response.status.code) \(response.text)")
                }
                let download = try await AttachmentTests.download(client, pair.agent, file)
                texts.append("download \(download.status.code) \(Array(buffer: download.body) == image)")
                return texts
            }
            let before = try await answers()
            #expect(before.allSatisfy { $0.contains(" 200 ") }, "\(before)")

            let store = app.dependencies.tenants
            let tenant = try #require(try await store.find(pair.tenant.slug))
            var lines: [String] = []
            let rows = try await store.export(tenant) { lines.append($0) }
            #expect(rows > 10 && lines.count == rows + 2, "a header, the rows, an end line")
            #expect(lines.contains { $0.hasPrefix("{\"table\":\"blob_chunks\"") })
            #expect(lines.last == #"{"end":true,"rows":\#(rows)}"#)

            try await store.delete(tenant)
            let leftovers = try await app.database.withTransaction { tx in
                try await tx.query("""
                    SELECT (SELECT count(*) FROM parley.tenants WHERE slug = $1) + (SELECT count(*) FROM pg_namespace WHERE nspname = $2)
                         + (SELECT count(*) FROM pg_roles WHERE rolname = $3) + (SELECT count(*) FROM parley.directory_members WHERE tenant_id = $4)
                         + (SELECT count(*) FROM parley.tenant_signing_keys WHERE tenant_id = $4) AS n
                    """, [pair.tenant.slug.rawValue, pair.tenant.scope.schema.rawValue, pair.tenant.scope.role.rawValue, tenant.id]).rows[0]
                    .decode(Int.self, "n")
            }
            #expect(leftovers == 0)
            #expect(try await Self.eventually { try await client.json(.get, "/v1/me", token: pair.agent).status == .unauthorized })

            // An export cut short (its end line missing, or rows missing before it) is refused,
            // and nothing of it is kept: not a smaller brokerage.
            for cut in [Array(lines.dropLast()), Array(lines.prefix(lines.count / 2)), Array(lines.prefix(3)) + [lines[lines.count - 1]]] {
                var partial = cut.makeIterator()
                await #expect(throws: DomainError.self) { _ = try await store.importTenant { partial.next() } }
                #expect(try await store.find(pair.tenant.slug) == nil)
            }
            // An import killed midway (its own clean-up never ran) left the brokerage made and
            // marked: not served, and replaced by the next import instead of tenant_exists.
            let left = try await store.create(slug: pair.tenant.slug, displayName: "left over").0
            try await app.database.withTransaction { tx in
                try await tx.query("UPDATE parley.tenants SET migrated_version = 0, migration_error = $2 WHERE id = $1",
                                   [left.id, TenantStore.importing])
            }
            // As an export made before directory records had `agent_fields` (control migration
            // 009): the column takes its default.
            var older = lines
            older[0] = older[0].replacingOccurrences(of: #",\\"agent_fields\\":\[[^\]]*\]"#, with: "", options: .regularExpression)
            #expect(older[0] != lines[0] && !older[0].contains("agent_fields"))
            var remaining = older.makeIterator()
            let (imported, importedRows) = try await store.importTenant { remaining.next() }
            #expect(imported.slug == pair.tenant.slug && importedRows == rows)
            // The tokens the brokerage signed before the export verify again (its keys came back).
            #expect(try await Self.eventually { try await client.json(.get, "/v1/me", token: pair.agent).status == .ok })
            #expect(try await answers() == before)
        }
    }

    @Test("an export made before archiving was each member's own imports with the session archived for the agent who archived it only")
    func olderExportArchive() async throws {
        try await TestApp.run { app, client in
            let pair = try await Pair.make(app, client)
            _ = try await pair.send(client, "first")
            _ = try await pair.send(client, "second")
            #expect(try await client.json(.post, "/v1/sessions/\(pair.sessionID)/archive", token: pair.agent).status == .ok)
            let store = app.dependencies.tenants
            let tenant = try #require(try await store.find(pair.tenant.slug))
            var lines: [String] = []
            _ = try await store.export(tenant) { lines.append($0) }
            // As the release before tenant migration 028 wrote it: the session's status archived
            // by the agent, no archive per member.
            lines = try lines.enumerated().map { index, line in
                if index == 0 { return line.replacingOccurrences(of: #""schemaVersion":\d+"#, with: "\"schemaVersion\":27", options: .regularExpression) }
                guard let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                      let table = object["table"] as? String, var row = object["row"] as? [String: Any] else { return line }
                switch table {
                case "sessions":
                    row["status"] = "archived"
                    row["status_changed_by"] = "agent-1"
                case "session_members":
                    row["archived_at"] = nil
                default: return line
                }
                // The line as an export writes it: the table first.
                return #"{"table":"\#(table)","row":"# + String(decoding: try JSONSerialization.data(withJSONObject: row), as: UTF8.self) + "}"
            }
            #expect(lines[0].contains("\"schemaVersion\":27"))
            try await store.delete(tenant)
            var remaining = lines.makeIterator()
            _ = try await store.importTenant { remaining.next() }
            #expect(try await Self.eventually { try await client.json(.get, "/v1/me", token: pair.agent).status == .ok })
            try await pair.expectArchivedByAgentOnly(client, unread: 2)
        }
    }

    /// Polls `check` for up to 10 s (the token verifier learns of deletions and creations by
    /// NOTIFY).
    static func eventually(_ check: () async throws -> Bool) async throws -> Bool {
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            if try await check() { return true }
            try await Task.sleep(for: .milliseconds(100))
        }
        return false
    }
}
