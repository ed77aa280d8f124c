import Database
import DatabaseTesting
import Domain
import Foundation
import HTTPTypes
import ParleyTesting
import Testing

/// Storage quotas per brokerage and per user (issue 14, item 3).
@Suite("Storage quotas")
struct StorageQuotaTests {
    /// A 700 KiB text file (an accepted type).
    static let file = ("notes.txt", [UInt8](repeating: UInt8(ascii: "a"), count: 700 * 1024))

    @Test("unsent uploads stop at the user's quota and sending frees it; the brokerage stops at its quota; refused bytes are never stored; usage is shown")
    func quotas() async throws {
        try await TestApp.run { app, client in
            let (tenant, agent, member, session) = try await AttachmentTests.pair(app, client)
            let patched = try await client.json(.patch, "/v1/tenants/\(tenant.slug)/settings", token: app.operatorKey,
                                                body: ["maxUnsentUploadBytesPerUser": 1 << 20, "maxStorageBytes": 2 << 20])
            #expect(patched.status == .ok)

            // One user: 700 KiB unsent, then 700 KiB more would pass 1 MiB.
            let first = try await AttachmentTests.uploaded(client, agent, session: session, Self.file)
            let over = try await AttachmentTests.upload(client, agent, session: session, [Self.file])
            #expect(over.status.code == 507)
            #expect(over.code == "upload_quota_exceeded")
            // Sent in a message, the first no longer counts as unsent.
            #expect(try await client.json(.post, "/v1/sessions/\(session)/messages", token: agent,
                                          body: ["clientMessageId": "q1", "text": "", "attachmentIds": [first]]).status == .created)
            _ = try await AttachmentTests.uploaded(client, agent, session: session, Self.file)

            // The brokerage: 1,400 KiB stored; 700 KiB more (another user) would pass 2 MiB.
            let full = try await AttachmentTests.upload(client, member, session: session, [Self.file])
            #expect(full.status.code == 507)
            #expect(full.code == "storage_quota_exceeded")

            let view = try await client.json(.get, "/v1/tenants/\(tenant.slug)", token: app.operatorKey)
            let usage = try #require((try JSONSerialization.jsonObject(with: Data(view.text.utf8)) as? [String: Any])?["usage"] as? [String: Any])
            #expect((usage["attachmentBytes"] as? Int) == 1400 * 1024)
            // What is stored is exactly what is counted: nothing of the refused uploads.
            let stored = try await app.database.withTenant(tenant.scope) { tx in
                try await tx.query("SELECT coalesce(sum(length(data)), 0)::bigint AS bytes FROM blob_chunks").rows[0].decode(Int64.self, "bytes")
            }
            #expect(stored == 1400 * 1024)

            // Removing a session's files (here: the unsent upload's sweep) gives the room back.
            try await app.database.withTenant(tenant.scope) { tx in
                try await tx.query("UPDATE attachments SET created_at = now() - interval '25 hours' WHERE message_id IS NULL")
            }
            await app.dependencies.maintenance.runOnce()
            #expect(try await AttachmentTests.upload(client, member, session: session, [Self.file]).status == .created)
        }
    }

    @Test("an unsent upload its uploader removes frees its room at once; another's, or one sent in a message, cannot be removed")
    func removeUnsentUpload() async throws {
        try await TestApp.run { app, client in
            let (tenant, agent, member, session) = try await AttachmentTests.pair(app, client)
            #expect(try await client.json(.patch, "/v1/tenants/\(tenant.slug)/settings", token: app.operatorKey,
                                          body: ["maxUnsentUploadBytesPerUser": 1 << 20]).status == .ok)
            func remove(_ id: String, as token: String) async throws -> APIResponse {
                try await client.execute(uri: "/v1/attachments/\(id)", method: .delete, headers: [.authorization: "Bearer \(token)"], body: nil)
            }
            // 700 KiB unsent: another 700 KiB is over the user's 1 MiB until the first is removed
            // (before, only the 24-hour sweep gave the room back).
            let first = try await AttachmentTests.uploaded(client, agent, session: session, Self.file)
            #expect(try await AttachmentTests.upload(client, agent, session: session, [Self.file]).code == "upload_quota_exceeded")
            #expect(try await remove(first, as: member).code == "attachment_not_found", "another user's upload")
            let removed = try await remove(first, as: agent)
            #expect(removed.status == .noContent, "\(removed.text)")
            #expect(try await AttachmentTests.download(client, agent, first).status == .notFound)
            #expect(try await remove(first, as: agent).status == .notFound)
            let second = try await AttachmentTests.uploaded(client, agent, session: session, Self.file)
            // Sent in a message: part of the conversation, not removable.
            #expect(try await client.json(.post, "/v1/sessions/\(session)/messages", token: agent,
                                          body: ["clientMessageId": "r1", "text": "", "attachmentIds": [second]]).status == .created)
            #expect(try await remove(second, as: agent).code == "attachment_not_found")
            #expect(try await AttachmentTests.download(client, member, second).status == .ok)
            let stored = try await app.database.withTenant(tenant.scope) { tx in
                try await tx.query("SELECT coalesce(sum(length(data)), 0)::bigint AS bytes FROM blob_chunks").rows[0].decode(Int64.self, "bytes")
            }
            #expect(stored == 700 * 1024, "the removed upload's bytes are gone")
        }
    }

    @Test("concurrent uploads cannot overrun the brokerage's quota together")
    func concurrentUploads() async throws {
        try await TestApp.run { app, client in
            let (tenant, agent, _, session) = try await AttachmentTests.pair(app, client)
            _ = try await client.json(.patch, "/v1/tenants/\(tenant.slug)/settings", token: app.operatorKey,
                                      body: ["maxStorageBytes": 2 << 20, "maxUnsentUploadBytesPerUser": 1 << 30])
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<6 {
                    group.addTask { Int(try await AttachmentTests.upload(client, agent, session: session, [Self.file], ownConnection: true).status.code) }
                }
                return try await group.reduce(into: [Int]()) { $0.append($1) }
            }
            // Which ones win depends on how their pieces interleave; at most two fit, the
            // others are refused, and what is counted is exactly what is stored.
            let accepted = statuses.filter { $0 == 201 }.count
            #expect(accepted <= 2 && statuses.allSatisfy { $0 == 201 || $0 == 507 }, "\(statuses)")
            let (counted, stored) = try await app.database.withTenant(tenant.scope) { tx in
                (try await tx.query("SELECT attachment_bytes FROM storage_usage").rows[0].decode(Int64.self, "attachment_bytes"),
                 try await tx.query("SELECT coalesce(sum(length(data)), 0)::bigint AS b FROM blob_chunks").rows[0].decode(Int64.self, "b"))
            }
            #expect(counted == Int64(accepted) * 700 * 1024)
            #expect(stored == counted)
        }
    }
}
