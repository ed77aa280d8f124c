import Database
import Foundation

/// The `users` table: people of the brokerage Parley has seen.
enum UserStore {
    /// Records a user, refreshing the display name when it changed.
    static func upsert(_ tx: Transaction, id: String, role: Caller.Role, name: String) async throws {
        try await tx.query("""
            INSERT INTO users (id, role, display_name) VALUES ($1, $2, $3)
            ON CONFLICT (id) DO UPDATE SET display_name = EXCLUDED.display_name, role = EXCLUDED.role, updated_at = now()
            WHERE users.display_name IS DISTINCT FROM EXCLUDED.display_name OR users.role IS DISTINCT FROM EXCLUDED.role
            """, [id, role.rawValue, name])
    }

    static func role(_ tx: Transaction, id: String) async throws -> Caller.Role? {
        try await tx.query("SELECT role FROM users WHERE id = $1", [id]).first
            .flatMap { Caller.Role(rawValue: try $0.decode(String.self, "role")) }
    }
}
