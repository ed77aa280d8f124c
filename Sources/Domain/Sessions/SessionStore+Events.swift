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
        let closed: Bool
        let members: [Session.Member]
        let lastSeq: Int64
        let lastActivityAt: Date
        let changedBy: String

        init(_ session: Session, status: Session.Status, changedBy: String) {
            sessionId = session.id
            kind = session.kind
            agentToAgent = session.agentToAgent
            self.status = status
            closed = session.closed
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

    /// session.updated to `recipients` (members of the session), plus their badges unless
    /// `badges` is false (the active set may have changed). Each sees the status as they see it:
    /// `archived` for those who archived it (decision 0061), so one event per status.
    static func announce(_ tx: Transaction, session: Session, to recipients: [String], changedBy: String, badges: Bool = true) async throws {
        guard let id = UUID(uuidString: session.id), !recipients.isEmpty else { return }
        // The session's own status is in `session` (`closed`); who archived it is each member's.
        let status: Session.Status = session.closed ? .closed : .active
        let archived = Set(try await tx.query(
            "SELECT m.user_id FROM session_members m WHERE m.session_id = $1 AND m.archived_at IS NOT NULL", [id]
        ).rows.map { try $0.decode(String.self, "user_id") })
        let byStatus = Dictionary(grouping: recipients) { archived.contains($0) ? Session.Status.archived : status }
        for (view, users) in byStatus.sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
            try await EventLog.append(tx, .sessionUpdated, session: id, recipients: users,
                                      data: SessionEvent(session, status: view, changedBy: changedBy))
        }
        // Agents of other brokerages (`@…`) have their badges in their own copies.
        if badges { try await BadgeStore.announce(tx, users: recipients.filter { !RemoteMember.isRemote($0) }) }
    }

    /// After a transaction with events has committed.
    func committed(_ caller: Caller) {
        notifier?.tenantChanged(caller.tenant)
    }
}
