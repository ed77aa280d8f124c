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
/// written anything: a chat request may be addressed only to a known agent. The token's name
/// and role are the brokerage's word on the user: they replace what the row says (a name an
/// agent gave them when starting a session with them seeds a new row only), again whenever a
/// token of theirs says otherwise.
///
/// One write per user per process and name (a row that already says so is not written);
/// the memory of what was recorded is bounded (forgotten all at once past `capacity`, after
/// which users are simply recorded again).
public final class UserDirectory: Sendable {
    let database: Database
    let capacity: Int
    /// Per brokerage and user, the role and name last recorded.
    private let recorded = Mutex<[String: String]>([:])

    public init(database: Database, capacity: Int = 100_000) {
        self.database = database
        self.capacity = capacity
    }

    /// Records `caller` unless this process already recorded them as they are now. A failure
    /// is not the request's: it is tried again on the user's next request.
    public func record(_ caller: Caller) async {
        let key = caller.tenant.slug.rawValue + "\u{0}" + caller.userID
        let said = caller.role.rawValue + "\u{0}" + caller.name
        guard recorded.withLock({ $0[key] != said }) else { return }
        do {
            try await database.withTenant(caller.tenant.scope) { tx in
                try await UserStore.upsert(tx, id: caller.userID, role: caller.role, name: caller.name)
            }
            recorded.withLock { known in
                if known.count >= capacity { known.removeAll(keepingCapacity: true) }
                known[key] = said
            }
        } catch {}
    }
}
