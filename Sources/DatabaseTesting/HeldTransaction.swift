import Foundation
import NIOPosix
import PQ

/// Runs `sql` on a raw connection to `database` (nil: the test database), keeping the
/// connection (and the transaction `sql` opened) until `release`, then rolls back. libpq
/// blocks: every call runs on NIO's blocking pool, never on the cooperative threads the other
/// tests share.
public final class HeldTransaction: Sendable {
    private let connection: Connection

    public convenience init(database: String?, _ sql: String) async throws {
        let base = try await TestDatabase.shared.conninfo()
        try await self.init(conninfo: database.map { TestDatabase.conninfo(base, database: $0) } ?? base, sql)
    }

    /// The same on the database `conninfo` names (a scratch database).
    public init(conninfo: String, _ sql: String) async throws {
        connection = try await NIOThreadPool.singleton.runIfActive {
            let connection = try Connection.connect(conninfo, applicationName: "parley-test-holder")
            _ = try connection.execAll(sql)
            return connection
        }
    }

    public func release() async {
        _ = try? await NIOThreadPool.singleton.runIfActive { [connection] in
            _ = try? connection.exec("ROLLBACK")
            connection.finish()
        }
    }
}
