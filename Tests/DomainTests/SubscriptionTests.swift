@testable import Domain
import Foundation
import Testing

@Suite("Stream outbox")
struct SubscriptionTests {
    static let tenant = Tenant(
        id: UUID(), slug: TenantSlug("demo")!, displayName: "Demo", scope: TenantSlug("demo")!.scope, createdAt: Date())

    static func event(_ position: Int64) -> StoredEvent {
        StoredEvent(position: position, type: "message.created", sessionID: nil, recipients: ["u"], data: "{}")
    }

    /// Drains the outbox as the socket writer does and returns the event positions written.
    static func written(_ subscription: Subscription) async -> [Int64] {
        var positions: [Int64] = []
        for await frame in subscription.frames {
            if case .event(let event) = frame { positions.append(event.position) }
            subscription.didWrite(frame)
        }
        return positions
    }

    @Test("a consumer that falls behind the outbox capacity is terminated as slow, not buffered")
    func slowConsumer() async {
        let subscription = Subscription(tenant: Self.tenant, userID: "u", capacity: 3, floor: 0, replaying: false)
        for position in Int64(1)...3 { subscription.deliver(Self.event(position)) }
        #expect(subscription.termination == nil)
        subscription.deliver(Self.event(4))
        #expect(subscription.termination?.closeCode == 4008)
        #expect(await Self.written(subscription) == [1, 2, 3])
    }

    @Test("the slow-consumer close reason names the last event written, taken after the queued frames went out")
    func slowConsumerCursor() async throws {
        let subscription = Subscription(tenant: Self.tenant, userID: "u", capacity: 3, floor: 10, replaying: false)
        for position in Int64(11)...14 { subscription.deliver(Self.event(position)) }
        let termination = try #require(subscription.termination)
        #expect(await Self.written(subscription) == [11, 12, 13])
        #expect(subscription.closeReason(termination) == "slow consumer; resume with after=13")
    }

    @Test("written frames free room; live events during a replay are held and flushed after it")
    func replayHold() async {
        let subscription = Subscription(tenant: Self.tenant, userID: "u", capacity: 10, floor: 2, replaying: true)
        subscription.deliver(Self.event(5))
        subscription.replay(Self.event(3))
        subscription.replay(Self.event(4))
        subscription.finishReplay()
        subscription.terminate(.clientClosed)
        #expect(await Self.written(subscription) == [3, 4, 5])
    }

    @Test("an event at or below what was already queued is never queued again, replayed or live")
    func noRepeats() async {
        let subscription = Subscription(tenant: Self.tenant, userID: "u", capacity: 10, floor: 4, replaying: true)
        subscription.deliver(Self.event(4))   // the client already has it (its cursor)
        subscription.deliver(Self.event(6))   // live while replaying: held
        subscription.replay(Self.event(5))
        subscription.replay(Self.event(6))    // the replay reached it too
        subscription.finishReplay()           // the held 6 is not queued twice
        subscription.deliver(Self.event(6))   // a late offer (another read) changes nothing
        subscription.deliver(Self.event(7))
        subscription.terminate(.clientClosed)
        #expect(await Self.written(subscription) == [5, 6, 7])
    }

    @Test("concurrent live offers while a replay finishes never overtake the held events")
    func noOvertaking() async {
        for _ in 0..<50 {
            let subscription = Subscription(tenant: Self.tenant, userID: "u", capacity: 10_000, floor: 0, replaying: true)
            for position in Int64(101)...200 { subscription.deliver(Self.event(position)) }
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    for position in Int64(1)...100 { subscription.replay(Self.event(position)) }
                    subscription.finishReplay()
                }
                group.addTask {
                    for position in Int64(201)...400 { subscription.deliver(Self.event(position)) }
                }
            }
            subscription.terminate(.clientClosed)
            let positions = await Self.written(subscription)
            #expect(positions == Array(1...400))
        }
    }
}
