import Database
import Foundation
import Logging

/// Demo content for `parley demo` (issue 20): the `demo` brokerage and a second one,
/// `harbor-homes`, filled so that a web inbox looks like a working agent's — conversations with
/// clients in every status, unread messages, a shared listing, formatting, attachments, an
/// agent-to-agent session within the brokerage and one across brokerages, pending chat requests
/// from websites and from another brokerage's agent, and directory records.
///
/// Everything is written through the product's own stores, as the API would write it (users as
/// the auth middleware records them, chat requests as the public API submits them, the
/// cross-brokerage session through Request Chat and its acceptance), never with SQL of its own.
///
/// Idempotent: every message has a fixed `clientMessageId` and is sent only when it is not in
/// the session yet; a conversation's session is found among the agent's sessions (any status)
/// before one is started; a chat request is made only when the agent has none from that person
/// (any status); directory records carry a fixed `ModificationTimestamp`. A second run writes
/// nothing, and a conversation the inbox's user changed since (closed, reopened, read) is left
/// as they left it.
public enum DemoData {
    public struct Person: Sendable, Hashable {
        public let id: String
        public let name: String
        public let role: Caller.Role
    }

    public static let demoSlug = slug("demo")
    public static let harborSlug = slug("harbor-homes")
    public static let demoName = "Demo Brokerage"
    public static let harborName = "Harbor Homes"

    /// The demo brokerage's agent the web inbox opens as.
    public static let avery = Person(id: "agent-1", name: "Avery Agent", role: .agent)
    public static let blake = Person(id: "agent-2", name: "Blake Morgan", role: .agent)
    public static let maria = Person(id: "client-1", name: "Maria Lopez", role: .client)
    public static let sam = Person(id: "client-2", name: "Sam Lee", role: .client)
    public static let priya = Person(id: "client-3", name: "Priya Patel", role: .client)
    public static let jordan = Person(id: "client-4", name: "Jordan Kim", role: .client)
    /// Harbor Homes' agents (Oakland and San Francisco).
    public static let hana = Person(id: "hana", name: "Hana Ito", role: .agent)
    public static let kai = Person(id: "kai", name: "Kai Nakamura", role: .agent)

    /// The listing Avery shares with Maria (the web inbox and its browser test look for it).
    public static let sharedListing = Listing(
        ListingId: "ML81234", OriginatingSystemName: "BRMLS", address: "12 Harbor Way, San Francisco", listPrice: 1_250_000,
        url: "https://listings.example/ML81234")

    /// What a run did.
    public struct Summary: Sendable {
        public struct Brokerage: Sendable {
            public let slug: String
            public let name: String
            public let created: Bool
        }

        /// One conversation, as its agent sees it after the run.
        public struct Conversation: Sendable {
            public let brokerage: String
            public let agent: String
            /// The other member's name.
            public let with: String
            /// The other member's brokerage, when it is not `brokerage` (a shared session).
            public let otherBrokerage: String?
            public let sessionId: String
            public let kind: Session.Kind
            public let agentToAgent: Bool
            public let status: Session.Status
            /// Whether this run started the session.
            public let created: Bool
            public let messagesSent: Int
            public let attachmentsSent: Int
            /// Messages in the session (its last seq).
            public let messages: Int64
            /// Unread for the agent.
            public let unread: Int64
        }

        /// A chat request to the inbox's agent.
        public struct Request: Sendable {
            public let id: String
            public let source: ChatRequest.Source
            public let from: String
            public let status: ChatRequest.Status
            public let created: Bool
        }

        public var brokerages: [Brokerage] = []
        /// User ids recorded as their first signed-in request would record them, per brokerage.
        public var usersRecorded: [String: [String]] = [:]
        public var directory: [DirectorySyncResult] = []
        public var contactsCreated = 0
        public var conversations: [Conversation] = []
        public var requests: [Request] = []

        public var sessionsCreated: Int { conversations.filter(\.created).count }
        public var messagesSent: Int { conversations.reduce(0) { $0 + $1.messagesSent } }
        public var attachmentsSent: Int { conversations.reduce(0) { $0 + $1.attachmentsSent } }
        public var requestsCreated: Int { requests.filter(\.created).count }
        /// Whether the run wrote anything (a second run writes nothing).
        public var changedAnything: Bool {
            brokerages.contains(where: \.created) || directory.contains { $0.outcome != .unchanged } || contactsCreated > 0
                || sessionsCreated > 0 || messagesSent > 0 || requestsCreated > 0
        }

        /// The run in a few lines, for the command's output.
        public var lines: [String] {
            var lines: [String] = []
            for brokerage in brokerages {
                let users = (usersRecorded[brokerage.slug] ?? []).joined(separator: ", ")
                lines.append("\(brokerage.slug) (\(brokerage.name)): \(brokerage.created ? "created" : "already there"); users \(users)")
            }
            let count = { (outcome: DirectorySyncResult.Outcome) in self.directory.filter { $0.outcome == outcome }.count }
            lines.append("directory: \(directory.count) listed agents (\(directory.compactMap(\.MemberKey).joined(separator: ", "))): "
                + "\(count(.created)) created, \(count(.updated)) updated, \(count(.unchanged)) unchanged")
            lines.append("contacts: \(contactsCreated) created")
            lines.append("conversations (\(sessionsCreated) started, \(messagesSent) messages and \(attachmentsSent) files sent):")
            for c in conversations {
                let what = c.created ? "started" : c.messagesSent > 0 ? "completed" : "already there"
                let kind = c.otherBrokerage.map { "agent, of \($0)" } ?? c.kind.rawValue
                lines.append("  \(c.brokerage)/\(c.agent) ↔ \(c.with) [\(kind), \(c.status.rawValue)]: \(what); "
                    + "\(c.messages) messages, \(c.unread) unread")
            }
            lines.append("chat requests (\(requestsCreated) created):")
            for r in requests {
                lines.append("  from \(r.from) [\(r.source.rawValue)]: \(r.created ? "created" : "already there"), \(r.status.rawValue)")
            }
            return lines
        }
    }

    /// Fills both brokerages (creating them if missing) and returns what it did. `demo` and
    /// `harbor` name the two brokerages (tests pass their own).
    public static func fill(
        database: Database, logger: Logger, demo: TenantSlug = demoSlug, harbor: TenantSlug = harborSlug
    ) async throws -> Summary {
        var summary = Summary()
        let tenants = TenantStore(database: database, logger: logger)
        let (demoTenant, demoCreated) = try await ensureBrokerage(tenants, demo, name: demoName, logger: logger)
        let (harborTenant, harborCreated) = try await ensureBrokerage(tenants, harbor, name: harborName, logger: logger)
        for tenant in [demoTenant, harborTenant] where !tenant.isServable {
            throw DomainError.conflict(
                code: "tenant_unavailable", message: "brokerage '\(tenant.slug)' is not migrated to this build: run `parley migrate` first")
        }
        summary.brokerages = [
            .init(slug: demo.rawValue, name: demoTenant.displayName, created: demoCreated),
            .init(slug: harbor.rawValue, name: harborTenant.displayName, created: harborCreated),
        ]
        let filler = Filler(database: database, logger: logger, demo: demoTenant, harbor: harborTenant)
        try await filler.run(into: &summary)
        return summary
    }

    /// The brokerage, provisioned if it does not exist yet (another process may create it at the
    /// same moment: then that one is used). `created` is whether this call created it.
    public static func ensureBrokerage(
        _ store: TenantStore, _ slug: TenantSlug, name: String, logger: Logger
    ) async throws -> (Tenant, created: Bool) {
        if let tenant = try await store.find(slug) { return (tenant, false) }
        do {
            let (tenant, _) = try await store.create(slug: slug, displayName: name)
            logger.notice("created the \(slug) brokerage", metadata: ["tenant": "\(slug)"])
            return (tenant, true)
        } catch DomainError.conflict {
            // Another process created it meanwhile.
            guard let tenant = try await store.find(slug) else { throw DomainError.notFound(code: "tenant_not_found", message: "no tenant '\(slug)'") }
            return (tenant, false)
        }
    }

    static func slug(_ text: String) -> TenantSlug {
        guard let slug = TenantSlug(text) else { preconditionFailure("'\(text)' is a valid slug") }
        return slug
    }
}
