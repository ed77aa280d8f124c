import Database
import Foundation

/// The payloads SessionStore puts in the event log (docs/STREAM.md). They hold what every
/// member may see; per-viewer fields (unread counts, delivery ticks) come from the REST API or
/// from `badge.updated` / `message.read`.
extension SessionStore {
    struct SessionEvent: Encodable {
        let sessionId: String
        let kind: Session.Kind
        let agentToAgent: Bool
        let status: Session.Status
        let members: [Session.Member]
        let lastSeq: Int64
        let lastActivityAt: Date
        let changedBy: String

        init(_ session: Session, changedBy: String) {
            sessionId = session.id
            kind = session.kind
            agentToAgent = session.agentToAgent
            status = session.status
            members = session.members
            lastSeq = session.lastSeq
            lastActivityAt = session.lastActivityAt
            self.changedBy = changedBy
        }
    }

    struct ReadEvent: Encodable {
        let sessionId: String
        let userId: String
        let lastReadSeq: Int64
    }

    /// session.updated to every member, plus their badges (the active set may have changed).
    static func announce(_ tx: Transaction, session: Session, changedBy: String, badges: Bool) async throws {
        let members = session.members.map(\.userId)
        guard let id = UUID(uuidString: session.id) else { return }
        try await EventLog.append(tx, .sessionUpdated, session: id, recipients: members, data: SessionEvent(session, changedBy: changedBy))
        if badges { try await BadgeStore.announce(tx, users: members) }
    }

    /// After a transaction with events has committed.
    func committed(_ caller: Caller) {
        notifier?.tenantChanged(caller.tenant)
    }
}
