import Foundation
import Synchronization

/// One live stream (one WebSocket): a user of a tenant and a bounded outbox.
///
/// The dispatcher pushes frames; the socket's writer drains them. The outbox never holds more
/// than `capacity` frames: a consumer that falls that far behind is terminated with
/// `slowConsumer` instead of growing the server's memory, and resumes with its last event id.
public final class Subscription: Sendable {
    public let id = UUID()
    public let tenant: Tenant
    public let userID: String
    public let capacity: Int
    public let frames: AsyncStream<StreamFrame>
    private let continuation: AsyncStream<StreamFrame>.Continuation
    private let state: Mutex<State>

    struct State {
        /// Live events that arrive while the replay runs are held here, then flushed.
        var replaying: Bool
        var held: [StoredEvent] = []
        var queued = 0
        var lastDelivered: Int64?
        var termination: StreamTermination?
    }

    init(tenant: Tenant, userID: String, capacity: Int, replaying: Bool) {
        self.tenant = tenant
        self.userID = userID
        self.capacity = capacity
        self.state = Mutex(State(replaying: replaying))
        (frames, continuation) = AsyncStream.makeStream(of: StreamFrame.self, bufferingPolicy: .unbounded)
    }

    /// Why the stream ended, if it was ended on purpose.
    public var termination: StreamTermination? { state.withLock { $0.termination } }

    /// The socket's writer calls this after writing a frame.
    public func didWrite(_ frame: StreamFrame) {
        state.withLock { state in
            state.queued = max(0, state.queued - 1)
            if case .event(let event) = frame { state.lastDelivered = event.id }
        }
    }

    /// A live event from the dispatcher (held while the replay runs).
    func deliver(_ event: StoredEvent) {
        let (hold, overflow) = state.withLock { state -> (Bool, Bool) in
            guard state.replaying else { return (false, false) }
            if state.held.count >= capacity {
                if state.termination == nil { state.termination = .slowConsumer(lastDelivered: state.lastDelivered) }
                return (true, true)
            }
            state.held.append(event)
            return (true, false)
        }
        if overflow { continuation.finish() }
        if !hold { push(.event(event)) }
    }

    /// Frames written to the outbox and not yet to the socket.
    var queued: Int { state.withLock { $0.queued } }

    /// A replayed event (during replay only).
    func replay(_ event: StoredEvent) {
        push(.event(event))
    }

    /// Ends the replay: flush held live events (all after the replay's high-water mark).
    func finishReplay() {
        let held = state.withLock { state in
            state.replaying = false
            defer { state.held.removeAll() }
            return state.held
        }
        for event in held { push(.event(event)) }
    }

    public func push(_ frame: StreamFrame) {
        let overflow = state.withLock { state -> StreamTermination? in
            guard state.termination == nil else { return nil }
            if state.queued >= capacity {
                state.termination = .slowConsumer(lastDelivered: state.lastDelivered)
                return state.termination
            }
            state.queued += 1
            return nil
        }
        if overflow != nil {
            continuation.finish()
            return
        }
        if state.withLock({ $0.termination == nil }) { continuation.yield(frame) }
    }

    /// Ends the stream (shutdown, unsubscribe).
    public func terminate(_ reason: StreamTermination) {
        state.withLock { state in
            if state.termination == nil { state.termination = reason }
        }
        continuation.finish()
    }
}
