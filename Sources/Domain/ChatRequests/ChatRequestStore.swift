import Database
import Foundation
import Logging

/// Chat requests: public submission, the agent's inbox and decisions, the visitor's view, and
/// expiry. Every decision locks the request row first (`FOR UPDATE`) and acts only on a pending,
/// unexpired request, so accept / decline / expire racing on one request have exactly one
/// winner; the others get 409.
public struct ChatRequestStore: Sendable {
    public let database: Database
    let notifier: Notifier?
    let logger: Logger

    public init(database: Database, notifier: Notifier?, logger: Logger) {
        self.database = database
        self.notifier = notifier
        self.logger = logger
    }

    static let columns = """
        r.id, r.agent_id, r.visitor_id, r.name, r.email, r.phone, r.message, r.property::text AS property,
        r.preferred_contact_method, r.status, r.created_at, r.decided_by, r.decided_at, r.decline_notes,
        r.session_id, r.contact_id, r.source, r.requester::text AS requester, r.requester_brokerage, r.requester_key
        """

    static let notFound = DomainError.notFound(code: "chat_request_not_found", message: "no such chat request")

    func requireAgent(_ caller: Caller) throws {
        guard caller.isAgent else { throw DomainError.forbidden(code: "agents_only", message: "only agents answer chat requests") }
    }

    static func requestID(_ text: String) throws -> UUID {
        guard let uuid = UUID(uuidString: text) else { throw notFound }
        return uuid
    }
}
