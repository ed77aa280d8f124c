import Database
import DatabaseTesting
import Foundation
import PQ
import Testing

@Suite("Database: LISTEN connection")
struct ListenerTests {
    @Test("delivers notifications, and reconnects after its backend is terminated")
    func reconnects() async throws {
        let conninfo = try await TestDatabase.shared.conninfo()
        let channel = "listener_test_\(UInt32.random(in: 0...UInt32.max))"
        let listener = NotificationListener(conninfo: conninfo, channels: [channel], logger: testLogger)
        listener.start()
        var iterator = listener.events.makeAsyncIterator()
        guard case .connected = await iterator.next() else { Issue.record("expected .connected first"); return }

        try await withRawConnection { sender in _ = try sender.execParams("SELECT pg_notify($1, 'one')", [.text(channel)]) }
        guard case .notification(let first) = await iterator.next() else { Issue.record("expected a notification"); return }
        #expect(first.payload == "one")

        let pid = try #require(listener.backendPID)
        try await withRawConnection { admin in _ = try admin.execParams("SELECT pg_terminate_backend($1::int)", [.text(String(pid))]) }
        guard case .connected = await iterator.next() else { Issue.record("expected a reconnect"); return }
        #expect(listener.isListening)
        #expect(listener.reconnectCount == 1)
        #expect(listener.backendPID != pid)

        try await withRawConnection { sender in _ = try sender.execParams("SELECT pg_notify($1, 'two')", [.text(channel)]) }
        guard case .notification(let second) = await iterator.next() else { Issue.record("expected a notification"); return }
        #expect(second.payload == "two")
        await listener.stopAndWait()
        #expect(!listener.isListening)
    }
}
