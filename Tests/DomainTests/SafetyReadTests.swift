@testable import Domain
import Database
import DatabaseTesting
import Foundation
import Testing

@Suite("Event dispatcher: the safety read")
struct SafetyReadTests {
    struct Discard: StreamSink {
        func write(_ frame: StreamFrame, for subscription: Subscription) {}
        func end(_ termination: StreamTermination, for subscription: Subscription) {}
    }

    /// Waits until every one of `slugs` has had a read end.
    static func read(_ dispatcher: EventDispatcher, _ slugs: [String]) async throws {
        let deadline = ContinuousClock.now + .seconds(20)
        while slugs.contains(where: { dispatcher.lastRead(of: $0) == nil }), ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(slugs.allSatisfy { dispatcher.lastRead(of: $0) != nil }, "reads of \(slugs) did not end")
    }

    /// The safety read used to re-read every brokerage with a stream in the process, every
    /// second: with 1,000 of them, 1,000 transactions a second in as many scopes, whatever the
    /// traffic (`parley-bench --brokerages`).
    @Test("a safety read re-reads at most its limit of brokerages, the longest unread first, none read within its interval")
    func bounded() async throws {
        let database = try await TestDatabase.shared.makeDatabase()
        let listener = NotificationListener(conninfo: "", channels: [], logger: testLogger)  // never started
        let dispatcher = EventDispatcher(database: database, listener: listener, channels: LiveChannels(), logger: testLogger)
        var subscriptions: [Subscription] = []
        for _ in 0..<5 {
            let fixture = try await TenantFixture.make(database)
            subscriptions.append(try await dispatcher.subscribe(fixture.caller("agent-1"), after: nil, sink: Discard()).0)
        }
        // An hour for "recently read", so that a slow machine's seconds change nothing.
        let hour = Duration.seconds(3600)
        let first = dispatcher.safetyRead(limit: 2, interval: hour)
        #expect(first.count == 2)
        try await Self.read(dispatcher, first)
        let second = dispatcher.safetyRead(limit: 2, interval: hour)
        #expect(second.count == 2 && Set(second).isDisjoint(with: first))
        try await Self.read(dispatcher, second)
        let third = dispatcher.safetyRead(limit: 2, interval: hour)
        #expect(third.count == 1 && Set(third).isDisjoint(with: first + second))
        try await Self.read(dispatcher, third)
        #expect(dispatcher.safetyRead(limit: 2, interval: hour).isEmpty, "every brokerage was read within the interval")
        // Past the interval, the two read longest ago come first.
        #expect(Set(dispatcher.safetyRead(limit: 2, interval: hour, now: .now + hour * 2)) == Set(first))
        for subscription in subscriptions { dispatcher.unsubscribe(subscription) }
        await database.close()
    }
}
