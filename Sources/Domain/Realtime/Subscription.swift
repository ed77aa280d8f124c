import Foundation
import Synchronization

/// Where a subscription's frames go: the socket. Both calls are made with the subscription's
/// lock held, in the order the frames must go out, so they must only hand the frame on (to
/// the socket's event loop) and never call back into the subscription.
public protocol StreamSink: Sendable {
    /// One frame to write after those handed on before it. When it has reached the socket,
    /// the sink calls `Subscription.didWrite` (for any number of frames at once).
    func write(_ frame: StreamFrame, for subscription: Subscription)
    /// The stream ended (`termination` says why) after every frame handed on before.
    func end(_ termination: StreamTermination, for subscription: Subscription)
}

/// One live stream (one WebSocket): a user of a tenant and a bounded outbox.
///
/// The dispatcher offers events (replayed and live); the sink writes them to the socket.
/// Everything that decides what goes out happens under one lock, in position order:
/// - an event at or below the last position queued is dropped, so replay and live never
///   repeat each other, whichever process or read offers it;
/// - while a replay runs, live events are held, and `finishReplay` queues them and clears the
///   flag in the same critical section, so no live event can overtake a held one;
/// - the outbox never holds more than `capacity` frames: a consumer that falls that far behind
///   is ended with `slowConsumer` instead of growing the server's memory.
public final class Subscription: Sendable {
    public let id = UUID()
    public let tenant: Tenant
    public let userID: String
    public let capacity: Int
    private let sink: any StreamSink
    private let state: Mutex<State>

    struct State {
        var replaying: Bool
        /// Live events that arrived while the replay ran.
        var held: [StoredEvent] = []
        /// The highest position queued (or the stream's starting point).
        var floor: Int64
        /// Frames handed to the sink that have not reached the socket yet.
        var queued = 0
        var termination: StreamTermination?
    }

    /// `floor`: the position the client already has everything up to (its `after`, or the
    /// dispatcher's position for a stream that starts live).
    init(tenant: Tenant, userID: String, capacity: Int, floor: Int64, replaying: Bool, sink: any StreamSink) {
        self.tenant = tenant
        self.userID = userID
        self.capacity = capacity
        self.sink = sink
        self.state = Mutex(State(replaying: replaying, floor: floor))
    }

    /// Why the stream ended, if it was ended on purpose.
    public var termination: StreamTermination? { state.withLock { $0.termination } }

    /// The highest position queued: a client that has every frame sent so far has everything
    /// up to it.
    public var lastQueued: Int64 { state.withLock { $0.floor } }

    /// The close reason to send: a slow consumer, and a stream closed because the server is
    /// going away, are told the cursor to resume from: the last event queued before the close,
    /// which the socket carries ahead of the close frame.
    public func closeReason(_ termination: StreamTermination) -> String {
        switch termination {
        case .slowConsumer, .goingAway, .replayFailed: "\(termination.reason); resume with after=\(lastQueued)"
        default: termination.reason
        }
    }

    /// The sink calls this when `count` more frames have reached the socket.
    public func didWrite(count: Int) {
        state.withLock { state in state.queued = max(0, state.queued - count) }
    }

    /// A live event from the dispatcher (held while the replay runs).
    func deliver(_ event: StoredEvent) {
        state.withLock { state in
            guard state.termination == nil, event.position > state.floor else { return }
            if state.replaying {
                if state.held.count < capacity {
                    state.held.append(event)
                } else {
                    end(.slowConsumer, &state)
                }
                return
            }
            _ = enqueue(.event(event), position: event.position, &state)
        }
    }

    /// A replayed event (during replay only, in position order).
    func replay(_ event: StoredEvent) {
        state.withLock { state in
            guard state.termination == nil, event.position > state.floor else { return }
            _ = enqueue(.event(event), position: event.position, &state)
        }
    }

    /// Ends the replay: queues the held live events (those after what was replayed) and goes
    /// live, atomically.
    func finishReplay() {
        state.withLock { state in
            defer {
                state.replaying = false
                state.held.removeAll()
            }
            for event in state.held where state.termination == nil && event.position > state.floor {
                if !enqueue(.event(event), position: event.position, &state) { return }
            }
        }
    }

    /// The client's cursor cannot be replayed (too old, or from another database): the stream
    /// continues live from `position` instead.
    func restart(at position: Int64) {
        state.withLock { state in state.floor = position }
    }

    /// Replay pacing: true while the outbox is more than half full.
    var isBackedUp: Bool { state.withLock { $0.queued > capacity / 2 } }

    /// A frame that is not an event (typing, error, pong).
    public func push(_ frame: StreamFrame) {
        state.withLock { state in
            guard state.termination == nil else { return }
            _ = enqueue(frame, position: nil, &state)
        }
    }

    /// Queues one frame, or ends the stream as a slow consumer when the outbox is full.
    /// Called with the lock held; returns false when the stream was ended.
    private func enqueue(_ frame: StreamFrame, position: Int64?, _ state: inout State) -> Bool {
        if state.queued >= capacity {
            end(.slowConsumer, &state)
            return false
        }
        state.queued += 1
        if let position { state.floor = position }
        sink.write(frame, for: self)
        return true
    }

    /// Ends the stream once, after what was queued. Called with the lock held.
    private func end(_ termination: StreamTermination, _ state: inout State) {
        guard state.termination == nil else { return }
        state.termination = termination
        sink.end(termination, for: self)
    }

    /// Ends the stream (shutdown, unsubscribe, credentials).
    public func terminate(_ reason: StreamTermination) {
        state.withLock { state in end(reason, &state) }
    }
}
