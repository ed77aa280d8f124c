import Database
import Foundation
import Synchronization

/// The `users` table: people of the brokerage Parley has seen.
enum UserStore {
    /// Records a user, refreshing the display name when it changed. (The time comes in the
    /// inserted row: Citus refuses functions other than immutable ones in `DO UPDATE SET`.)
    static func upsert(_ tx: Transaction, id: String, role: Caller.Role, name: String) async throws {
        try await tx.query("""
            INSERT INTO users (id, role, display_name, updated_at) VALUES ($1, $2, $3, now())
            ON CONFLICT (id) DO UPDATE SET display_name = EXCLUDED.display_name, role = EXCLUDED.role, updated_at = EXCLUDED.updated_at
            WHERE users.display_name IS DISTINCT FROM EXCLUDED.display_name OR users.role IS DISTINCT FROM EXCLUDED.role
            """, [id, role.rawValue, name])
    }

    /// Records a user who has no row yet; an existing row (its name and role, kept by the
    /// flows that write them) is left as it is.
    static func insertIfMissing(_ tx: Transaction, id: String, role: Caller.Role, name: String) async throws {
        try await tx.query("""
            INSERT INTO users (id, role, display_name) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING
            """, [id, role.rawValue, name])
    }

    static func role(_ tx: Transaction, id: String) async throws -> Caller.Role? {
        try await tx.query("SELECT role FROM users WHERE id = $1", [id]).first
            .flatMap { Caller.Role(rawValue: try $0.decode(String.self, "role")) }
    }
}

/// Records every user the first time this process sees their token (any authenticated
/// request or stream), so the brokerage's `users` table knows its agents before they have
/// written anything: a chat request may be addressed only to a known agent.
///
/// One insert per user per process (a row that exists is left alone: names and roles are kept
/// by the flows that write them); the memory of who was recorded is bounded (forgotten all at
/// once past `capacity`, after which users are simply recorded again).
public final class UserDirectory: Sendable {
    let database: Database
    let capacity: Int
    private let recorded = Mutex<Set<String>>([])

    public init(database: Database, capacity: Int = 100_000) {
        self.database = database
        self.capacity = capacity
    }

    /// Records `caller` unless this process already did. A failure is not the request's: it
    /// is tried again on the user's next request.
    public func record(_ caller: Caller) async {
        let key = caller.tenant.slug.rawValue + "\u{0}" + caller.userID
        guard recorded.withLock({ !$0.contains(key) }) else { return }
        do {
            try await database.withTenant(caller.tenant.scope) { tx in
                try await UserStore.insertIfMissing(tx, id: caller.userID, role: caller.role, name: caller.name)
            }
            recorded.withLock { set in
                if set.count >= capacity { set.removeAll(keepingCapacity: true) }
                set.insert(key)
            }
        } catch {}
    }
}
