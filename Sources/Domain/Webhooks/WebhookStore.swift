import Database
import Foundation

/// A brokerage's webhook endpoint (issue 19; decision 0033), as the API shows it. The secret is
/// shown only by `secret(…)` and `rotate(…)`, and in the answer that created the endpoint.
public struct WebhookEndpoint: Sendable, Codable, Equatable {
    public let id: String
    public let url: String
    public let eventTypes: [String]
    public let description: String
    public let enabled: Bool
    /// Why delivery disabled it (absent when it is enabled, or was disabled by hand).
    public let disabledReason: String?
    public let createdAt: Date
    public let updatedAt: Date
}

/// The signing secrets of an endpoint: `secret` signs every delivery; during a rotation
/// `previousSecret` signs too (a second signature) until `previousSecretExpiresAt`, and after a
/// second rotation within that time the first one's old secret, `olderSecret`, until its own
/// end.
public struct WebhookSecrets: Sendable, Codable, Equatable {
    public let secret: String
    public let previousSecret: String?
    public let previousSecretExpiresAt: Date?
    public let olderSecret: String?
    public let olderSecretExpiresAt: Date?
}

/// Fields of a new endpoint, or of a change (absent: unchanged).
public struct WebhookEndpointDraft: Sendable {
    public var url: String?
    public var eventTypes: [String]?
    public var description: String?
    public var enabled: Bool?

    public init(url: String? = nil, eventTypes: [String]? = nil, description: String? = nil, enabled: Bool? = nil) {
        self.url = url
        self.eventTypes = eventTypes
        self.description = description
        self.enabled = enabled
    }
}

/// The endpoints of each brokerage, in its own schema (`webhook_endpoints`, migration 021),
/// managed by its integrations and by the operator.
public struct WebhookStore: Sendable {
    public let database: Database
    public let policy: WebhookURLPolicy
    /// Told of a brokerage that just got an endpoint (the deliverer starts watching it at once).
    let onEndpointCreated: (@Sendable (Tenant) -> Void)?

    /// The events an endpoint can ask for: the live stream's, and two of its own.
    public static let eventTypes: [String] = [
        "message.created", "message.read", "session.updated", "request.created", "request.updated",
        "contact.created", "webhook.disabled",
    ]
    /// Endpoints per brokerage.
    public static let maxEndpoints = 20
    /// Entries of an endpoint's `eventTypes` at most, repeats counted (the contract's `maxItems`).
    public static let maxEventTypes = 20
    /// How long a rotated-out secret still signs, by default.
    public static let rotationOverlap: TimeInterval = 24 * 3600

    public init(database: Database, policy: WebhookURLPolicy, onEndpointCreated: (@Sendable (Tenant) -> Void)? = nil) {
        self.database = database
        self.policy = policy
        self.onEndpointCreated = onEndpointCreated
    }

    static let columns = """
        id, url, to_jsonb(event_types) AS event_types, description, enabled, disabled_reason, created_at, updated_at
        """
    static let notFound = DomainError.notFound(code: "webhook_endpoint_not_found", message: "no such webhook endpoint")

    public func create(_ tenant: Tenant, _ draft: WebhookEndpointDraft) async throws -> (WebhookEndpoint, WebhookSecrets) {
        var errors: [FieldError] = []
        if draft.url == nil { errors.append(FieldError("url", "required", "the URL deliveries are POSTed to")) }
        if draft.eventTypes == nil { errors.append(FieldError("eventTypes", "required", "the event types to send")) }
        if !errors.isEmpty { throw DomainError.validation(errors) }
        let valid = try validated(draft)
        let secret = StandardWebhooks.newSecret()
        // First the control schema's note that this brokerage has endpoints (every process's
        // deliverer reads it), so an endpoint never exists unwatched.
        try await database.withTransaction { tx in
            try await tx.query("INSERT INTO parley.webhook_brokerages (tenant_id) VALUES ($1) ON CONFLICT DO NOTHING", [tenant.id])
        }
        // Events committed before are numbered first: the endpoint starts after all of them.
        _ = try await database.tenantBatch(tenant.scope, "SELECT sequence_events()")
        let created = try await database.withTenant(tenant.scope) { tx in
            // One writer of the brokerage's endpoints at a time, so the limit holds.
            try await tx.simpleQuery("LOCK TABLE webhook_endpoints IN EXCLUSIVE MODE")
            let count = try await tx.query("SELECT count(*) AS n FROM webhook_endpoints").rows[0].decode(Int64.self, "n")
            guard count < Self.maxEndpoints else {
                throw DomainError.conflict(
                    code: "webhook_endpoint_limit", message: "a brokerage has at most \(Self.maxEndpoints) webhook endpoints")
            }
            // Read first, not as a subquery of the INSERT (which Citus refuses; decision 0032).
            let head = try await tx.query("SELECT position FROM event_clock WHERE singleton").first?.decode(Int64.self, "position") ?? 0
            let id = try await tx.query("""
                INSERT INTO webhook_endpoints (url, event_types, description, enabled, secret, scan_position)
                VALUES ($1, $2::text[], $3, $4, $5, $6)
                RETURNING id
                """, [valid.url, SQLArray.text(valid.eventTypes ?? []), valid.description ?? "", valid.enabled ?? true, secret, head])
                .rows[0].decode(UUID.self, "id")
            guard let endpoint = try await Self.fetch(tx, id) else { throw Self.notFound }
            return (endpoint, WebhookSecrets(secret: secret, previousSecret: nil, previousSecretExpiresAt: nil, olderSecret: nil, olderSecretExpiresAt: nil))
        }
        onEndpointCreated?(tenant)
        return created
    }

    /// Every endpoint of the brokerage, oldest first (at most `maxEndpoints`).
    public func list(_ tenant: Tenant) async throws -> [WebhookEndpoint] {
        try await database.withTenant(tenant.scope) { tx in
            try await tx.query("SELECT \(Self.columns) FROM webhook_endpoints ORDER BY created_at, id").rows.map(Self.endpoint)
        }
    }

    public func get(_ tenant: Tenant, id: String) async throws -> WebhookEndpoint {
        let uuid = try Self.id(id)
        return try await database.withTenant(tenant.scope) { tx in
            guard let row = try await tx.query("SELECT \(Self.columns) FROM webhook_endpoints WHERE id = $1", [uuid]).first else {
                throw Self.notFound
            }
            return try Self.endpoint(row)
        }
    }

    /// Changes the given fields. Enabling an endpoint clears the reason delivery disabled it,
    /// and makes its pending deliveries due now: an endpoint disabled after three days of
    /// failures had its next attempts up to 10 h away, and the receiver, fixed and enabled
    /// again, waited that long for them.
    public func update(_ tenant: Tenant, id: String, _ draft: WebhookEndpointDraft) async throws -> WebhookEndpoint {
        let uuid = try Self.id(id)
        let valid = try validated(draft)
        return try await database.withTenant(tenant.scope) { tx in
            if valid.enabled == true, try await tx.query(
                "SELECT 1 FROM webhook_endpoints WHERE id = $1 AND NOT enabled FOR NO KEY UPDATE", [uuid]).first != nil {
                // Leased ones are in an attempt; its outcome schedules them.
                _ = try await tx.query("""
                    UPDATE webhook_deliveries SET next_attempt_at = now()
                    WHERE endpoint_id = $1 AND status = 'pending' AND lease_until IS NULL AND next_attempt_at > now()
                    """, [uuid])
            }
            guard try await tx.query("""
                UPDATE webhook_endpoints SET
                    url = coalesce($2, url),
                    event_types = coalesce($3::text[], event_types),
                    description = coalesce($4, description),
                    enabled = coalesce($5, enabled),
                    disabled_reason = CASE WHEN $5 IS NULL THEN disabled_reason ELSE NULL END,
                    failing_since = CASE WHEN $5 THEN NULL ELSE failing_since END,
                    updated_at = now()
                WHERE id = $1
                RETURNING id
                """, [uuid, valid.url, valid.eventTypes.map(SQLArray.text), valid.description, valid.enabled]).first != nil,
                let endpoint = try await Self.fetch(tx, uuid)
            else { throw Self.notFound }
            return endpoint
        }
    }

    public func delete(_ tenant: Tenant, id: String) async throws {
        let uuid = try Self.id(id)
        let deleted = try await database.withTenant(tenant.scope) { tx in
            try await tx.query("DELETE FROM webhook_endpoints WHERE id = $1 RETURNING 1", [uuid]).rows.count
        }
        if deleted == 0 { throw Self.notFound }
    }

    public func secrets(_ tenant: Tenant, id: String) async throws -> WebhookSecrets {
        let uuid = try Self.id(id)
        return try await database.withTenant(tenant.scope) { tx in
            guard let row = try await tx.query("""
                SELECT \(Self.secretColumns) FROM webhook_endpoints
                WHERE id = $1
                """, [uuid]).first
            else { throw Self.notFound }
            return try Self.secrets(row)
        }
    }

    /// A new secret; the current one keeps signing beside it for `overlap` seconds (0: at once
    /// retired, with every old secret: a leaked one), so receivers can switch without losing a
    /// delivery. During an earlier rotation's overlap its old secret goes on signing until the end
    /// it was given (`olderSecret`); a third rotation within both overlaps retires the oldest.
    public func rotate(_ tenant: Tenant, id: String, overlap: TimeInterval = rotationOverlap) async throws -> WebhookSecrets {
        let uuid = try Self.id(id)
        guard overlap >= 0, overlap <= 7 * 24 * 3600 else {
            throw DomainError.validation([FieldError("overlapSeconds", "out_of_range", "between 0 and 604800 seconds")])
        }
        let secret = StandardWebhooks.newSecret()
        let now = Date()
        // The times are computed here, not by volatile calls inside the statement (Citus refuses
        // those in an UPDATE of a distributed table; decision 0032).
        return try await database.withTenant(tenant.scope) { tx in
            guard let row = try await tx.query("""
                UPDATE webhook_endpoints SET
                    older_secret = CASE WHEN $3::timestamptz IS NOT NULL AND previous_secret_expires_at > $4 THEN previous_secret END,
                    older_secret_expires_at = CASE WHEN $3::timestamptz IS NOT NULL AND previous_secret_expires_at > $4
                                                   THEN previous_secret_expires_at END,
                    previous_secret = CASE WHEN $3::timestamptz IS NOT NULL THEN secret END,
                    previous_secret_expires_at = $3::timestamptz,
                    secret = $2, updated_at = now()
                WHERE id = $1
                RETURNING \(Self.secretColumns)
                """, [uuid, secret, overlap > 0 ? now.addingTimeInterval(overlap) : nil, now]).first
            else { throw Self.notFound }
            return try Self.secrets(row)
        }
    }

    // MARK: - Validation and rows

    func validated(_ draft: WebhookEndpointDraft) throws -> WebhookEndpointDraft {
        var v = Validator()
        var valid = draft
        if let url = draft.url {
            do { valid.url = try policy.validate(url).absoluteString } catch DomainError.validation(let found) { v.add(found) }
        }
        if let types = draft.eventTypes {
            if types.isEmpty { v.add("eventTypes", "required", "at least one event type") }
            if types.count > Self.maxEventTypes { v.add("eventTypes", "too_many", "at most \(Self.maxEventTypes) event types") }
            for (index, type) in types.enumerated() where !Self.eventTypes.contains(type) {
                v.add("eventTypes[\(index)]", "unknown_event_type", "one of \(Self.eventTypes.joined(separator: ", "))")
            }
            var seen: [String] = []
            for type in types where !seen.contains(type) { seen.append(type) }
            valid.eventTypes = seen
        }
        if let description = draft.description { v.checkText(description, "description", maxLength: 500) }
        try v.check()
        return valid
    }

    /// One endpoint, read after a write: a write's RETURNING names plain columns only (Citus
    /// refuses functions that are not immutable there, such as `to_jsonb`; decision 0032).
    static func fetch(_ tx: Transaction, _ id: UUID) async throws -> WebhookEndpoint? {
        try await tx.query("SELECT \(columns) FROM webhook_endpoints WHERE id = $1", [id]).first.map(endpoint)
    }

    static func id(_ text: String) throws -> UUID {
        guard let uuid = UUID(uuidString: text) else { throw notFound }
        return uuid
    }

    static func endpoint(_ row: Row) throws -> WebhookEndpoint {
        WebhookEndpoint(
            id: try row.decode(UUID.self, "id").uuidString.lowercased(), url: try row.decode(String.self, "url"),
            eventTypes: try row.decodeJSON([String].self, "event_types"), description: try row.decode(String.self, "description"),
            enabled: try row.decode(Bool.self, "enabled"), disabledReason: try row.decode(String?.self, "disabled_reason"),
            createdAt: try row.decode(Date.self, "created_at"), updatedAt: try row.decode(Date.self, "updated_at"))
    }

    static let secretColumns = "secret, previous_secret, previous_secret_expires_at, older_secret, older_secret_expires_at"

    /// The secrets that sign now: an old one past its end is not shown.
    static func secrets(_ row: Row) throws -> WebhookSecrets {
        let now = Date()
        let previousEnds = try row.decode(Date?.self, "previous_secret_expires_at").flatMap { $0 > now ? $0 : nil }
        let olderEnds = try row.decode(Date?.self, "older_secret_expires_at").flatMap { $0 > now ? $0 : nil }
        return WebhookSecrets(
            secret: try row.decode(String.self, "secret"),
            previousSecret: previousEnds == nil ? nil : try row.decode(String?.self, "previous_secret"), previousSecretExpiresAt: previousEnds,
            olderSecret: olderEnds == nil ? nil : try row.decode(String?.self, "older_secret"), olderSecretExpiresAt: olderEnds)
    }
}
