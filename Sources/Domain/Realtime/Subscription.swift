import Foundation
import Synchronization

/// One live stream (one WebSocket): a user of a tenant and a bounded outbox.
///
/// The dispatcher offers events (replayed and live); the socket's writer drains the outbox.
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
    public let frames: AsyncStream<StreamFrame>
    private let continuation: AsyncStream<StreamFrame>.Continuation
    private let state: Mutex<State>

    struct State {
        var replaying: Bool
        /// Live events that arrived while the replay ran.
        var held: [StoredEvent] = []
        /// The highest position queued (or the stream's starting point).
        var floor: Int64
        /// The highest position written to the socket (or the starting point).
        var written: Int64
        var queued = 0
        var termination: StreamTermination?
    }

    /// `floor`: the position the client already has everything up to (its `after`, or the
    /// dispatcher's position for a stream that starts live).
    init(tenant: Tenant, userID: String, capacity: Int, floor: Int64, replaying: Bool) {
        self.tenant = tenant
        self.userID = userID
        self.capacity = capacity
        self.state = Mutex(State(replaying: replaying, floor: floor, written: floor))
        (frames, continuation) = AsyncStream.makeStream(of: StreamFrame.self, bufferingPolicy: .unbounded)
    }

    /// Why the stream ended, if it was ended on purpose.
    public var termination: StreamTermination? { state.withLock { $0.termination } }

    /// The highest position written to the socket: what the client resumes from.
    public var lastWritten: Int64 { state.withLock { $0.written } }

    /// The close reason to send: a slow consumer, and a stream closed because the server is
    /// going away, are told the cursor to resume from, taken now, after every frame queued
    /// before the close was written.
    public func closeReason(_ termination: StreamTermination) -> String {
        switch termination {
        case .slowConsumer, .goingAway: "\(termination.reason); resume with after=\(lastWritten)"
        default: termination.reason
        }
    }

    /// The socket's writer calls this after writing a frame.
    public func didWrite(_ frame: StreamFrame) {
        state.withLock { state in
            state.queued = max(0, state.queued - 1)
            if case .event(let event) = frame { state.written = max(state.written, event.position) }
        }
    }

    /// A live event from the dispatcher (held while the replay runs).
    func deliver(_ event: StoredEvent) {
        let ended = state.withLock { state -> Bool in
            guard state.termination == nil, event.position > state.floor else { return false }
            if state.replaying {
                if state.held.count < capacity {
                    state.held.append(event)
                    return false
                }
                state.termination = .slowConsumer
                return true
            }
            return !enqueue(.event(event), position: event.position, &state)
        }
        if ended { continuation.finish() }
    }

    /// A replayed event (during replay only, in position order).
    func replay(_ event: StoredEvent) {
        let ended = state.withLock { state -> Bool in
            guard state.termination == nil, event.position > state.floor else { return false }
            return !enqueue(.event(event), position: event.position, &state)
        }
        if ended { continuation.finish() }
    }

    /// Ends the replay: queues the held live events (those after what was replayed) and goes
    /// live, atomically.
    func finishReplay() {
        let ended = state.withLock { state -> Bool in
            defer {
                state.replaying = false
                state.held.removeAll()
            }
            for event in state.held where state.termination == nil && event.position > state.floor {
                if !enqueue(.event(event), position: event.position, &state) { return true }
            }
            return false
        }
        if ended { continuation.finish() }
    }

    /// The client's cursor cannot be replayed (too old, or from another database): the stream
    /// continues live from `position` instead.
    func restart(at position: Int64) {
        state.withLock { state in
            state.floor = position
            state.written = position
        }
    }

    /// Frames written to the outbox and not yet to the socket.
    var queued: Int { state.withLock { $0.queued } }

    /// Replay pacing: true while the outbox is more than half full.
    var isBackedUp: Bool { state.withLock { $0.queued > capacity / 2 } }

    /// A frame that is not an event (typing, error, pong).
    public func push(_ frame: StreamFrame) {
        let ended = state.withLock { state -> Bool in
            guard state.termination == nil else { return false }
            return !enqueue(frame, position: nil, &state)
        }
        if ended { continuation.finish() }
    }

    /// Queues one frame, or ends the stream as a slow consumer when the outbox is full.
    /// Called with the lock held; returns false when the stream was ended.
    private func enqueue(_ frame: StreamFrame, position: Int64?, _ state: inout State) -> Bool {
        if state.queued >= capacity {
            state.termination = .slowConsumer
            return false
        }
        state.queued += 1
        if let position { state.floor = position }
        continuation.yield(frame)
        return true
    }

    /// Ends the stream (shutdown, unsubscribe, credentials).
    public func terminate(_ reason: StreamTermination) {
        state.withLock { state in
            if state.termination == nil { state.termination = reason }
        }
        continuation.finish()
    }
}
