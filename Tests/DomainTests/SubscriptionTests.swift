@testable import Domain
import Foundation
import Testing

@Suite("Stream outbox")
struct SubscriptionTests {
    static let tenant = Tenant(
        id: UUID(), slug: TenantSlug("demo")!, displayName: "Demo", scope: TenantSlug("demo")!.scope, createdAt: Date())

    static func event(_ id: Int64) -> StoredEvent {
        StoredEvent(id: id, xid: "1", type: "message.created", sessionID: nil, recipients: ["u"], data: "{}")
    }

    @Test("a consumer that falls behind the outbox capacity is terminated as slow, not buffered")
    func slowConsumer() async {
        let subscription = Subscription(tenant: Self.tenant, userID: "u", capacity: 3, replaying: false)
        for id in Int64(1)...3 { subscription.deliver(Self.event(id)) }
        #expect(subscription.termination == nil)
        subscription.deliver(Self.event(4))
        #expect(subscription.termination?.closeCode == 4008)
        var count = 0
        for await _ in subscription.frames { count += 1 }
        #expect(count == 3)
    }

    @Test("written frames free room; live events during a replay are held and flushed after it")
    func replayHold() async {
        let subscription = Subscription(tenant: Self.tenant, userID: "u", capacity: 10, replaying: true)
        subscription.deliver(Self.event(5))
        subscription.replay(Self.event(3))
        subscription.replay(Self.event(4))
        subscription.finishReplay()
        subscription.terminate(.clientClosed)
        var ids: [Int64] = []
        for await frame in subscription.frames {
            if case .event(let event) = frame { ids.append(event.id) }
            subscription.didWrite(frame)
        }
        #expect(ids == [3, 4, 5])
    }
}
