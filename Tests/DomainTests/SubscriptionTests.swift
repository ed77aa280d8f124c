@testable import Domain
import Foundation
import Synchronization
import Testing

@Suite("Stream outbox")
struct SubscriptionTests {
    static let tenant = Tenant(
        id: UUID(), slug: TenantSlug("demo")!, displayName: "Demo", scope: TenantSlug("demo")!.scope, createdAt: Date())

    static func event(_ position: Int64) -> StoredEvent {
        StoredEvent(position: position, type: "message.created", sessionID: nil, recipients: ["u"], data: "{}")
    }

    /// A socket that takes every frame and reports none written (`didWrite`) unless the
    /// test says so: a client that reads nothing.
    final class RecordingSink: StreamSink {
        private let frames = Mutex<(positions: [Int64], ended: StreamTermination?)>(([], nil))

        func write(_ frame: StreamFrame, for subscription: Subscription) {
            frames.withLock { frames in
                precondition(frames.ended == nil, "a frame after the end")
                if case .event(let event) = frame { frames.positions.append(event.position) }
            }
        }

        func end(_ termination: StreamTermination, for subscription: Subscription) {
            frames.withLock { $0.ended = termination }
        }

        var positions: [Int64] { frames.withLock { $0.positions } }
        var ended: StreamTermination? { frames.withLock { $0.ended } }
    }

    static func subscription(capacity: Int, floor: Int64, replaying: Bool) -> (Subscription, RecordingSink) {
        let sink = RecordingSink()
        return (Subscription(tenant: Self.tenant, userID: "u", capacity: capacity, floor: floor, replaying: replaying, sink: sink), sink)
    }

    @Test("a consumer that falls behind the outbox capacity is terminated as slow, not buffered")
    func slowConsumer() async {
        let (subscription, sink) = Self.subscription(capacity: 3, floor: 0, replaying: false)
        for position in Int64(1)...3 { subscription.deliver(Self.event(position)) }
        #expect(subscription.termination == nil)
        subscription.deliver(Self.event(4))
        #expect(subscription.termination?.closeCode == 4008)
        #expect(sink.ended?.closeCode == 4008)
        #expect(sink.positions == [1, 2, 3])
    }

    @Test("the slow-consumer close reason names the last event sent ahead of the close")
    func slowConsumerCursor() async throws {
        let (subscription, sink) = Self.subscription(capacity: 3, floor: 10, replaying: false)
        for position in Int64(11)...14 { subscription.deliver(Self.event(position)) }
        let termination = try #require(subscription.termination)
        #expect(sink.positions == [11, 12, 13])
        #expect(subscription.closeReason(termination) == "slow consumer; resume with after=13")
    }

    @Test("frames that reached the socket free room in the outbox")
    func writtenFreesRoom() {
        let (subscription, sink) = Self.subscription(capacity: 3, floor: 0, replaying: false)
        for position in Int64(1)...3 { subscription.deliver(Self.event(position)) }
        subscription.didWrite(count: 2)
        for position in Int64(4)...5 { subscription.deliver(Self.event(position)) }
        #expect(subscription.termination == nil)
        subscription.deliver(Self.event(6))
        #expect(subscription.termination?.closeCode == 4008)
        #expect(sink.positions == [1, 2, 3, 4, 5])
    }

    @Test("live events during a replay are held and sent after it")
    func replayHold() async {
        let (subscription, sink) = Self.subscription(capacity: 10, floor: 2, replaying: true)
        subscription.deliver(Self.event(5))
        subscription.replay(Self.event(3))
        subscription.replay(Self.event(4))
        #expect(sink.positions == [3, 4])
        subscription.finishReplay()
        subscription.terminate(.clientClosed)
        #expect(sink.positions == [3, 4, 5])
    }

    @Test("an event at or below what was already queued is never queued again, replayed or live")
    func noRepeats() async {
        let (subscription, sink) = Self.subscription(capacity: 10, floor: 4, replaying: true)
        subscription.deliver(Self.event(4))   // the client already has it (its cursor)
        subscription.deliver(Self.event(6))   // live while replaying: held
        subscription.replay(Self.event(5))
        subscription.replay(Self.event(6))    // the replay reached it too
        subscription.finishReplay()           // the held 6 is not queued twice
        subscription.deliver(Self.event(6))   // a late offer (another read) changes nothing
        subscription.deliver(Self.event(7))
        subscription.terminate(.clientClosed)
        #expect(sink.positions == [5, 6, 7])
    }

    @Test("concurrent live offers while a replay finishes never overtake the held events")
    func noOvertaking() async {
        for _ in 0..<50 {
            let (subscription, sink) = Self.subscription(capacity: 10_000, floor: 0, replaying: true)
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
            #expect(sink.positions == Array(1...400))
        }
    }
}
