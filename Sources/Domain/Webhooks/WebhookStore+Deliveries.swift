import Database
import Foundation

/// A delivery of one event to one endpoint, as the delivery log shows it (issue 19, point 4).
public struct WebhookDelivery: Sendable, Codable, Equatable {
    public struct Attempt: Sendable, Codable, Equatable {
        public let attempt: Int
        public let startedAt: Date
        /// The HTTP status, absent when no response came.
        public let status: Int?
        public let latencyMs: Int
        public let error: String?
        /// The start of the response body (at most 1,000 characters).
        public let response: String?
    }

    public let id: String
    public let endpointId: String
    /// The `webhook-id` header: the same on every attempt and redelivery.
    public let messageId: String
    public let eventType: String
    /// The event's position in the brokerage's event log (the stream's cursor), when it has one.
    public let eventPosition: Int64?
    /// `pending` (an attempt is due or running), `succeeded`, or `failed` (retries exhausted,
    /// or the endpoint answered 410).
    public let status: String
    public let attempts: Int
    public let nextAttemptAt: Date?
    public let lastAttemptAt: Date?
    public let lastStatus: Int?
    public let lastError: String?
    public let lastLatencyMs: Int?
    public let createdAt: Date
    /// The body as sent (only in a single delivery's answer).
    public let payload: String?
    /// Every attempt, oldest first (only in a single delivery's answer).
    public let attemptLog: [Attempt]?
}

extension WebhookStore {
    static let deliveryStatuses = ["pending", "succeeded", "failed"]
    static let deliveryNotFound = DomainError.notFound(code: "webhook_delivery_not_found", message: "no such webhook delivery")
    static let deliveryColumns = """
        d.id, d.endpoint_id, d.message_id, d.event_type, d.event_pos, d.status, d.attempts, d.next_attempt_at, d.last_attempt_at,
        d.last_status, d.last_error, d.last_latency_ms, d.created_at, d.created_at::text AS created_key
        """

    /// The endpoint's deliveries, newest first; `status` filters, `after` is the previous page's
    /// cursor.
    public func deliveries(
        _ tenant: Tenant, endpoint: String, status: String?, after: String?, limit: Int
    ) async throws -> (items: [WebhookDelivery], next: String?) {
        let endpointID = try Self.id(endpoint)
        if let status, !Self.deliveryStatuses.contains(status) {
            throw DomainError.validation([FieldError("status", "invalid_value", "one of pending, succeeded, failed")])
        }
        let position = try Keyset.decode(after)
        let rows = try await database.withTenant(tenant.scope) { tx in
            guard try await tx.query("SELECT 1 FROM webhook_endpoints WHERE id = $1", [endpointID]).first != nil else { throw Self.notFound }
            return try await tx.query("""
                SELECT \(Self.deliveryColumns) FROM webhook_deliveries d
                WHERE d.endpoint_id = $1 AND ($2::text IS NULL OR d.status = $2)
                  AND ($3::timestamptz IS NULL OR (d.created_at, d.id) < ($3::timestamptz, $4::uuid))
                ORDER BY d.created_at DESC, d.id DESC
                LIMIT $5
                """, [endpointID, status, position?.key, position?.id, limit + 1]).rows
        }
        let items = try rows.prefix(limit).map { try Self.delivery($0, payload: nil, attempts: nil) }
        var next: String?
        if rows.count > limit, let last = rows.prefix(limit).last {
            next = Keyset(key: try last.decode(String.self, "created_key"), id: try last.decode(UUID.self, "id")).cursor
        }
        return (items, next)
    }

    /// One delivery with its body and every attempt.
    public func delivery(_ tenant: Tenant, endpoint: String, id: String) async throws -> WebhookDelivery {
        let endpointID = try Self.id(endpoint)
        guard let deliveryID = UUID(uuidString: id) else { throw Self.deliveryNotFound }
        return try await database.withTenant(tenant.scope) { tx in
            try await Self.delivery(tx, endpointID, deliveryID)
        }
    }

    /// Sends the delivery again (whatever its status), starting the retry schedule afresh, with
    /// the same `webhook-id` so a receiver that already has it can tell. A disabled endpoint
    /// must be enabled first.
    public func redeliver(_ tenant: Tenant, endpoint: String, id: String) async throws -> WebhookDelivery {
        let endpointID = try Self.id(endpoint)
        guard let deliveryID = UUID(uuidString: id) else { throw Self.deliveryNotFound }
        return try await database.withTenant(tenant.scope) { tx in
            guard let enabled = try await tx.query("SELECT enabled FROM webhook_endpoints WHERE id = $1", [endpointID]).first else {
                throw Self.notFound
            }
            guard try enabled.decode(Bool.self, "enabled") else {
                throw DomainError.conflict(code: "webhook_endpoint_disabled", message: "enable the endpoint before redelivering to it")
            }
            // The lease goes too: an attempt whose lease ran out may still report, and its
            // outcome (webhook_record() matches the lease) would undo this redelivery.
            let updated = try await tx.query("""
                UPDATE webhook_deliveries SET status = 'pending', retry_step = 0, next_attempt_at = now(),
                    lease_until = NULL, updated_at = now()
                WHERE id = $1 AND endpoint_id = $2 AND (status <> 'pending' OR lease_until IS NULL OR lease_until < now())
                RETURNING id
                """, [deliveryID, endpointID]).rows.count
            if updated == 0 {
                // Absent, or an attempt is running right now: it finishes on its own.
                let current = try await Self.delivery(tx, endpointID, deliveryID)
                throw DomainError.conflict(
                    code: "webhook_delivery_in_flight", message: "delivery \(current.id) is being attempted now; try again when it is done")
            }
            return try await Self.delivery(tx, endpointID, deliveryID)
        }
    }

    /// How long finished deliveries stay in the log.
    public static let deliveryLogDays = 30

    /// The maintenance job: removes deliveries that finished more than `deliveryLogDays` ago,
    /// and those a disabled endpoint has held that long (with their attempts), 1,000 per
    /// transaction. Returns how many went.
    public func trimDeliveries(_ tenant: Tenant, now: Date = Date()) async throws -> Int {
        let before = now.addingTimeInterval(-Double(Self.deliveryLogDays) * 86400)
        var total = 0
        while true {
            let deleted = try await database.withTenant(tenant.scope) { tx in
                // Two parts, each read through its own index: one `OR` across them was served by
                // no index, and every pass read the whole log. Finished ones by their age
                // (`webhook_deliveries_finished`). Pending ones at disabled endpoints by
                // endpoint and creation (`webhook_deliveries_log`): a delivery is created before
                // it is last updated, so `created_at` bounds what `updated_at` asks for.
                try await tx.query("""
                    DELETE FROM webhook_deliveries WHERE id IN (
                        SELECT id FROM webhook_deliveries WHERE status <> 'pending' AND updated_at < $1
                        UNION ALL
                        SELECT d.id FROM webhook_endpoints e
                        JOIN webhook_deliveries d ON d.endpoint_id = e.id AND d.created_at < $1
                        WHERE NOT e.enabled AND d.status = 'pending' AND d.updated_at < $1
                        LIMIT 1000)
                    """, [before]).affectedRows
            }
            total += deleted
            if deleted < 1000 { return total }
        }
    }

    static func delivery(_ tx: Transaction, _ endpointID: UUID, _ deliveryID: UUID) async throws -> WebhookDelivery {
        guard let row = try await tx.query("""
            SELECT \(Self.deliveryColumns), d.body FROM webhook_deliveries d WHERE d.id = $1 AND d.endpoint_id = $2
            """, [deliveryID, endpointID]).first
        else { throw Self.deliveryNotFound }
        let attempts = try await tx.query("""
            SELECT attempt, started_at, status, latency_ms, error, response FROM webhook_attempts
            WHERE delivery_id = $1 ORDER BY attempt
            """, [deliveryID]).rows.map {
            WebhookDelivery.Attempt(
                attempt: try $0.decode(Int.self, "attempt"), startedAt: try $0.decode(Date.self, "started_at"),
                status: try $0.decode(Int?.self, "status"), latencyMs: try $0.decode(Int.self, "latency_ms"),
                error: try $0.decode(String?.self, "error"), response: try $0.decode(String?.self, "response"))
        }
        return try Self.delivery(row, payload: try row.decode(String.self, "body"), attempts: attempts)
    }

    static func delivery(_ row: Row, payload: String?, attempts: [WebhookDelivery.Attempt]?) throws -> WebhookDelivery {
        WebhookDelivery(
            id: try row.decode(UUID.self, "id").uuidString.lowercased(),
            endpointId: try row.decode(UUID.self, "endpoint_id").uuidString.lowercased(),
            messageId: try row.decode(String.self, "message_id"), eventType: try row.decode(String.self, "event_type"),
            eventPosition: try row.decode(Int64?.self, "event_pos"), status: try row.decode(String.self, "status"),
            attempts: try row.decode(Int.self, "attempts"), nextAttemptAt: try row.decode(Date?.self, "next_attempt_at"),
            lastAttemptAt: try row.decode(Date?.self, "last_attempt_at"), lastStatus: try row.decode(Int?.self, "last_status"),
            lastError: try row.decode(String?.self, "last_error"), lastLatencyMs: try row.decode(Int?.self, "last_latency_ms"),
            createdAt: try row.decode(Date.self, "created_at"), payload: payload, attemptLog: attempts)
    }
}
