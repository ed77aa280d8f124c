import Database
import Foundation

extension ChatRequestStore {
    public func list(_ caller: Caller, status: ChatRequest.Status?, source: ChatRequest.Source? = nil, after: String?, limit: Int) async throws -> (items: [ChatRequest], next: String?) {
        try requireAgent(caller)
        let position = try Keyset.decode(after)
        let ttl = caller.tenant.settings.chatRequestTTLHours
        let rows = try await database.withTenant(caller.tenant.scope) { tx in
            try await tx.query("""
                SELECT \(Self.columns), to_char(r.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') AS cursor_time
                FROM chat_requests r
                WHERE r.agent_id = $1 AND ($2::text IS NULL OR r.status = $2) AND ($6::text IS NULL OR r.source = $6)
                  AND ($3::timestamp IS NULL OR (r.created_at, r.id) < ($3::timestamp AT TIME ZONE 'UTC', $4::uuid))
                ORDER BY r.created_at DESC, r.id DESC LIMIT $5
                """, [caller.userID, status?.rawValue, position?.key, position?.id, limit + 1, source?.rawValue]).rows
        }
        let items = try rows.prefix(limit).map { try Self.request($0, viewer: caller.userID, ttl: ttl) }
        var next: String?
        if rows.count > limit, let last = rows.prefix(limit).last {
            next = Keyset(key: try last.decode(String.self, "cursor_time"), id: try last.decode(UUID.self, "id")).cursor
        }
        return (items, next)
    }

    public func get(_ caller: Caller, id: String) async throws -> ChatRequest {
        try requireAgent(caller)
        let uuid = try Self.requestID(id)
        return try await database.withTenant(caller.tenant.scope) { tx in
            guard let row = try await Self.fetch(tx, uuid, agent: caller.userID, lock: false) else { throw Self.notFound }
            return try Self.request(row, viewer: caller.userID, ttl: caller.tenant.settings.chatRequestTTLHours)
        }
    }
}
