import Database
import Foundation

extension ChatRequestStore {
    static func fetch(_ tx: Transaction, _ id: UUID, agent: String, lock: Bool) async throws -> Row? {
        try await tx.query(
            "SELECT \(columns) FROM chat_requests r WHERE r.id = $1 AND r.agent_id = $2\(lock ? " FOR UPDATE" : "")", [id, agent]).first
    }

    static func request(_ row: Row, viewer: String?, ttl: Int) throws -> ChatRequest {
        let created = try row.decode(Date.self, "created_at")
        let decidedBy = try row.decode(String?.self, "decided_by")
        return ChatRequest(
            id: try row.decode(UUID.self, "id").uuidString.lowercased(),
            source: ChatRequest.Source(rawValue: try row.decode(String.self, "source")) ?? .website,
            agentId: try row.decode(String.self, "agent_id"),
            requester: try row.decode(String?.self, "requester").map {
                try ParleyJSON.sharedDecoder.decode(DirectoryMember.self, from: Data($0.utf8))
            },
            name: try row.decode(String.self, "name"), email: try row.decode(String?.self, "email"),
            phone: try row.decode(String?.self, "phone"), message: try row.decode(String.self, "message"),
            property: try row.decode(String?.self, "property").map { try JSONDecoder().decode(Listing.self, from: Data($0.utf8)) },
            preferredContactMethod: ContactMethod(rawValue: try row.decode(String.self, "preferred_contact_method")) ?? .chat,
            status: ChatRequest.Status(rawValue: try row.decode(String.self, "status")) ?? .pending,
            createdAt: created, expiresAt: created.addingTimeInterval(Double(ttl) * 3600),
            decidedAt: try row.decode(Date?.self, "decided_at"),
            sessionId: try row.decode(UUID?.self, "session_id")?.uuidString.lowercased(),
            contactId: try row.decode(UUID?.self, "contact_id")?.uuidString.lowercased(),
            declineNotes: viewer != nil && viewer == decidedBy ? try row.decode(String?.self, "decline_notes") : nil)
    }
}

extension ChatRequestStore {
    static let sentColumns = """
        r.id, r.requester_id, r.target_brokerage, r.target_key, r.target::text AS target, r.message, r.property::text AS property,
        r.status, r.expires_at, r.decided_at, r.session_id, r.created_at
        """

    static func sentRequest(_ row: Row) throws -> SentChatRequest {
        SentChatRequest(
            id: try row.decode(UUID.self, "id").uuidString.lowercased(),
            to: try ParleyJSON.sharedDecoder.decode(DirectoryMember.self, from: Data(try row.decode(String.self, "target").utf8)),
            message: try row.decode(String.self, "message"),
            property: try row.decode(String?.self, "property").map { try JSONDecoder().decode(Listing.self, from: Data($0.utf8)) },
            status: ChatRequest.Status(rawValue: try row.decode(String.self, "status")) ?? .pending,
            createdAt: try row.decode(Date.self, "created_at"), expiresAt: try row.decode(Date.self, "expires_at"),
            decidedAt: try row.decode(Date?.self, "decided_at"),
            sessionId: try row.decode(UUID?.self, "session_id")?.uuidString.lowercased())
    }
}
