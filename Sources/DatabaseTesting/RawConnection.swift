import Foundation
import NIOPosix
import PQ

/// Runs `body` with a fresh libpq connection to the test database, on a blocking-allowed
/// thread (never the cooperative pool), and closes the connection afterwards.
public func withRawConnection<T: Sendable>(_ body: @escaping @Sendable (Connection) throws -> T) async throws -> T {
    let conninfo = try await TestDatabase.shared.conninfo()
    return try await NIOThreadPool.singleton.runIfActive {
        let connection = try Connection.connect(conninfo, applicationName: "parley-test")
        defer { connection.finish() }
        return try body(connection)
    }
}

/// Random bytes for round-trip tests.
public func randomBytes(_ count: Int) -> [UInt8] {
    var generator = SystemRandomNumberGenerator()
    var bytes = [UInt8](repeating: 0, count: count)
    var index = 0
    while index < count {
        var word = generator.next()
        for _ in 0..<8 where index < count {
            bytes[index] = UInt8(truncatingIfNeeded: word)
            word >>= 8
            index += 1
        }
    }
    return bytes
}

/// A random name for test objects (tenant slugs, channels): `prefix` and `length` characters of
/// [a-z0-9], so concurrent tests never collide.
public func randomName(_ prefix: String, length: Int = 12) -> String {
    let characters = Array("abcdefghijklmnopqrstuvwxyz0123456789")
    var generator = SystemRandomNumberGenerator()
    return prefix + String((0..<length).map { _ in characters[Int.random(in: 0..<characters.count, using: &generator)] })
}
