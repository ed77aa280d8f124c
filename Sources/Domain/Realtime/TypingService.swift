import Database
import Foundation
import Synchronization

/// Typing indicators: ephemeral, never stored. A member's "typing" in a session reaches the
/// other members as a NOTIFY payload, at most once per 2 s per user and session, sealed with
/// the deployment's key so that no other database login can read or forge one (decision 0029).
public final class TypingService: Sendable {
    public static let throttle: TimeInterval = 2
    public static let shownFor: TimeInterval = 5

    let database: Database
    let channels: LiveChannels
    private let lastSent = Mutex<[String: Date]>([:])

    public init(database: Database, channels: LiveChannels) {
        self.database = database
        self.channels = channels
    }

    public enum Outcome: Sendable, Equatable {
        case sent(until: Date)
        /// Within the throttle window: nothing sent, not an error.
        case throttled
    }

    public func typing(_ caller: Caller, sessionID id: String) async throws -> Outcome {
        let uuid = try SessionStore.sessionID(id)
        let key = "\(caller.tenant.slug)|\(caller.userID)|\(uuid)"
        let now = Date()
        let allowed = lastSent.withLock { last -> Bool in
            if let previous = last[key], now.timeIntervalSince(previous) < Self.throttle { return false }
            last[key] = now
            if last.count > 100_000 { last = last.filter { now.timeIntervalSince($0.value) < Self.throttle } }
            return true
        }
        guard allowed else { return .throttled }
        let rows = try await database.withTenant(caller.tenant.scope) { tx in
            try await tx.query("""
                SELECT m.user_id, to_json(s.peers)::text AS peers FROM session_members m JOIN sessions s ON s.id = m.session_id
                WHERE m.session_id = $1
                  AND EXISTS (SELECT 1 FROM session_members me WHERE me.session_id = $1 AND me.user_id = $2)
                """, [uuid, caller.userID]).rows
        }
        let members = try rows.map { try $0.decode(String.self, "user_id") }
        guard let first = rows.first else {
            lastSent.withLock { _ = $0.removeValue(forKey: key) }
            throw SessionStore.notFound
        }
        let until = now.addingTimeInterval(Self.shownFor)
        let home = caller.tenant.slug.rawValue
        // A shared session's other copies hear it too, in their brokerage's names (decision 0028).
        let peers = try first.decodeJSON([String].self, "peers")
        try await channels.loadTypingKey(database)
        let payloads = try ([home] + peers).map { brokerage in
            let signal = TypingSignal(
                t: brokerage, s: uuid.uuidString.lowercased(), u: RemoteMember.translate(caller.userID, from: home, to: brokerage),
                n: caller.name, until: until.timeIntervalSince1970,
                r: brokerage == home ? members : members.map { RemoteMember.translate($0, from: home, to: brokerage) })
            return try channels.seal(try JSONEncoder().encode(signal))
        }
        try await database.withConnection { connection in
            _ = try await connection.query(
                "SELECT pg_notify($1, payload) FROM unnest($2::text[]) AS payload", [channels.typing, SQLArray.text(payloads)])
        }
        return .sent(until: until)
    }
}
