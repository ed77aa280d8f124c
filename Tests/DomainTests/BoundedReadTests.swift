import Database
import DatabaseTesting
import Domain
import Foundation
import Testing

/// Reads that a user or the maintenance pass makes often must cost what they return, not what
/// the brokerage holds. Each test puts thousands of rows the call has no business with beside
/// the few it needs, with the table's statistics current (`ANALYZE`), and counts the rows the
/// server read for it.
@Suite("Domain: a contact's page and the delivery log's trim read what they need, not the whole table")
struct BoundedReadTests {
    /// `GET /v1/contacts/{id}` lists the contact's sessions. `sessions.contact_id` had no index,
    /// so every contact page read every session of the brokerage.
    @Test("a contact's sessions are found without reading the brokerage's other sessions")
    func contactSessionsThroughTheirIndex() async throws {
        let fixture = try await TenantFixture.make(try await TestDatabase.shared.makeDatabase(maxConnections: 1))
        defer { Task { await fixture.close() } }
        let agent = fixture.caller("agent-1")
        let (session, _) = try await SessionStore(database: fixture.database, notifier: nil).create(
            agent, with: .newClient(userID: "c1", name: "Casey Client", email: "casey@example.com", phone: nil))
        let contacts = ContactStore(database: fixture.database)
        let contactID = try #require(session.contactId)
        // 2,000 other sessions: 1,000 more of this agent's, with contacts of their own, and 1,000
        // of another agent's.
        try await fixture.database.withTenant(fixture.tenant.scope) { tx in
            _ = try await tx.query("INSERT INTO users (id, role, display_name) VALUES ('agent-2', 'agent', 'Agent Two')")
            _ = try await tx.query("""
                WITH c AS (
                    INSERT INTO contacts (owner_member_key, full_name) SELECT 'agent-1', 'Other ' || i FROM generate_series(1, 1000) AS i
                    RETURNING id),
                s AS (
                    INSERT INTO sessions (kind, created_by, contact_id)
                    SELECT 'client', 'agent-1', id FROM c UNION ALL SELECT 'agent', 'agent-2', NULL FROM generate_series(1, 1000)
                    RETURNING id, created_by)
                INSERT INTO session_members (session_id, user_id, role) SELECT id, created_by, 'agent' FROM s
                """)
            _ = try await tx.query("ANALYZE sessions")
            _ = try await tx.query("ANALYZE session_members")
        }
        let (contact, read) = try await RowsRead.during(fixture, "sessions") { try await contacts.get(agent, id: contactID) }
        #expect(contact.sessions?.map(\.id) == [session.id])
        #expect(read < 10, "sessions read for one contact's page: \(read)")
    }

    /// The maintenance pass trims the delivery log every minute in every brokerage. Its one
    /// query asked for "finished, or pending at a disabled endpoint": no index serves an `OR`
    /// across both, so each pass read every delivery of the last 30 days.
    @Test("the delivery log's trim removes what is past keeping and reads little else")
    func deliveryTrimReadsWhatItRemoves() async throws {
        let fixture = try await TenantFixture.make(try await TestDatabase.shared.makeDatabase(maxConnections: 1))
        defer { Task { await fixture.close() } }
        let webhooks = WebhookStore(database: fixture.database, policy: WebhookURLPolicy())
        // Passes over the empty log first, past the five custom plans after which PostgreSQL
        // may keep a generic one (for which `updated_at < $1` is a third of the table).
        for _ in 0..<7 { #expect(try await webhooks.trimDeliveries(fixture.tenant) == 0) }
        let kept = try await fixture.database.withTenant(fixture.tenant.scope) { tx -> [String] in
            _ = try await tx.query("""
                INSERT INTO webhook_endpoints (id, url, event_types, secret, enabled) VALUES
                ('00000000-0000-0000-0000-00000000000a', 'https://a.example/hook', '{message.created}', 'whsec_a', true),
                ('00000000-0000-0000-0000-00000000000d', 'https://d.example/hook', '{message.created}', 'whsec_d', false)
                """)
            // Old enough to go: finished ones at either endpoint, pending ones at the disabled one.
            // Kept: anything recent (2,000 finished), pending at the enabled endpoint however old.
            _ = try await tx.query("""
                INSERT INTO webhook_deliveries (endpoint_id, event_type, body, status, created_at, updated_at, last_error)
                SELECT e::uuid, 'message.created', '{}', s, now() - make_interval(days => d), now() - make_interval(days => d), label
                FROM (VALUES
                    ('00000000-0000-0000-0000-00000000000a', 'succeeded', 31, 'gone'),
                    ('00000000-0000-0000-0000-00000000000a', 'failed', 45, 'gone'),
                    ('00000000-0000-0000-0000-00000000000d', 'succeeded', 31, 'gone'),
                    ('00000000-0000-0000-0000-00000000000d', 'pending', 31, 'gone'),
                    ('00000000-0000-0000-0000-00000000000a', 'pending', 60, 'kept: pending, enabled'),
                    ('00000000-0000-0000-0000-00000000000d', 'pending', 29, 'kept: recent')
                ) AS v (e, s, d, label)
                UNION ALL
                SELECT '00000000-0000-0000-0000-00000000000a', 'message.created', '{}', 'succeeded',
                       now() - make_interval(days => 40), now() - make_interval(days => i % 29), 'kept: recent'
                FROM generate_series(1, 2000) AS i
                """)
            _ = try await tx.query("ANALYZE webhook_deliveries")
            return try await tx.query("SELECT DISTINCT last_error FROM webhook_deliveries WHERE last_error LIKE 'kept%' ORDER BY 1")
                .rows.map { try $0.decode(String.self, "last_error") }
        }
        let (trimmed, read) = try await RowsRead.during(fixture, "webhook_deliveries") { try await webhooks.trimDeliveries(fixture.tenant) }
        #expect(trimmed == 4)
        let left = try await fixture.database.withTenant(fixture.tenant.scope) { tx in
            try await tx.query("SELECT DISTINCT last_error FROM webhook_deliveries ORDER BY 1").rows.map { try $0.decode(String.self, "last_error") }
        }
        #expect(left == kept)
        #expect(read < 50, "deliveries read by one trim: \(read)")
    }
}
