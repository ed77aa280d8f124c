import Foundation
import Logging
import PQ
import ServiceLifecycle
import Synchronization

/// The process's one LISTEN connection.
///
/// It runs on a dedicated thread (it blocks in `poll`), never on the cooperative pool. NOTIFY
/// is only a wake-up (the tables are the truth), so consumers read `events` for:
/// - `.connected`: the listener (re)connected; anything sent while it was away was missed,
///   so re-read the tables from your cursor;
/// - `.notification`: a wake-up with its payload.
/// A lost connection is retried with capped exponential back-off (100 ms doubling to 5 s).
/// The connection is also checked actively: after `probeInterval` without input, an empty
/// query must come back within `probeTimeout`, so a half-open connection (no FIN, no RST: the
/// server's host died, a route dropped, the backend hangs) is noticed in seconds, not when TCP
/// gives up; `isListening` (and /ready) turn false, and the reconnect's `.connected` makes
/// consumers re-read from their cursors.
public final class NotificationListener: Service, Sendable {
    public enum Event: Sendable {
        case connected
        case notification(PQNotification)
    }

    public let channels: [String]
    public let events: AsyncStream<Event>
    private let continuation: AsyncStream<Event>.Continuation
    private let conninfo: String
    private let logger: Logger
    private let state = Mutex(State())
    /// In a `Callback`: a bare closure in a Mutex slows down with every call.
    private let handler = Mutex<Callback<Event>?>(nil)

    private struct State {
        var listening = false
        var stopping = false
        var started = false
        var connection: Connection?
        var reconnects = 0
        var finished = false
        /// When the server last answered (any input, or a probe's reply).
        var lastHeard = ContinuousClock.now
    }

    let probeInterval: Duration
    let probeTimeout: Duration

    public init(conninfo: String, channels: [String], logger: Logger, probeInterval: Duration = .seconds(3), probeTimeout: Duration = .seconds(5)) {
        self.conninfo = conninfo
        self.channels = channels
        self.logger = logger
        self.probeInterval = probeInterval
        self.probeTimeout = probeTimeout
        (events, continuation) = AsyncStream.makeStream(of: Event.self, bufferingPolicy: .bufferingNewest(10_000))
    }

    /// True while the LISTEN connection is up and has answered recently (reported by /ready):
    /// a connection that is silent past a probe's interval plus a second is not counted as
    /// listening, even before the probe's timeout gives up on it.
    public var isListening: Bool {
        state.withLock { $0.listening && ContinuousClock.now - $0.lastHeard < probeInterval + .seconds(1) }
    }

    /// How many times the connection was re-established after a loss.
    public var reconnectCount: Int { state.withLock { $0.reconnects } }

    /// The backend pid of the LISTEN connection, for fault tests (`pg_terminate_backend`).
    public var backendPID: Int32? { state.withLock { $0.connection?.backendPID } }

    /// Has `body` called with every event on the listener's own thread, instead of `events`
    /// (set it before `start`). It must be quick: the next notification waits for it.
    public func onEvent(_ body: @escaping @Sendable (Event) -> Void) {
        handler.withLock { $0 = Callback(body) }
    }

    private func emit(_ event: Event) {
        if let handler = handler.withLock({ $0 }) {
            handler.call(event)
        } else {
            continuation.yield(event)
        }
    }

    /// Starts the listening thread (idempotent).
    public func start() {
        let shouldStart = state.withLock { state in
            if state.started { return false }
            state.started = true
            return true
        }
        guard shouldStart else { return }
        let thread = Thread { [self] in loop() }
        thread.name = "parley-listener"
        thread.start()
    }

    /// Stops the thread within one poll interval and finishes the event stream.
    public func stop() {
        state.withLock { $0.stopping = true }
    }

    public func run() async throws {
        start()
        try? await gracefulShutdown()
        await stopAndWait()
    }

    /// Stops and waits (at most 2 s) until the thread has closed its connection, so a shutdown
    /// that stops the database next does not pull it from under a live LISTEN.
    public func stopAndWait() async {
        stop()
        let deadline = ContinuousClock.now + .seconds(2)
        while !state.withLock({ $0.finished || !$0.started }), ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
    }

    private var stopping: Bool { state.withLock { $0.stopping } }

    private func loop() {
        var backoff = 0.1
        var everConnected = false
        while !stopping {
            let connection: Connection
            do {
                connection = try Connection.connect(conninfo, applicationName: "parley-listener")
                for channel in channels {
                    try connection.exec("LISTEN \(Identifier.quote(channel))")
                }
            } catch {
                logger.warning("listener cannot connect; retrying", metadata: ["error": "\(error)", "retry_in_s": "\(backoff)"])
                sleepInterruptibly(seconds: backoff)
                backoff = min(backoff * 2, 5)
                continue
            }
            state.withLock { state in
                state.listening = true
                state.lastHeard = .now
                state.connection = connection
                if everConnected { state.reconnects += 1 }
            }
            if everConnected { logger.info("listener reconnected") }
            everConnected = true
            backoff = 0.1
            emit(.connected)
            pump(connection)
            state.withLock { state in
                state.listening = false
                state.connection = nil
            }
            connection.finish()
        }
        continuation.finish()
        state.withLock { $0.finished = true }
    }

    /// Delivers notifications until the connection breaks or the listener stops.
    private func pump(_ connection: Connection) {
        var lastHeard = ContinuousClock.now
        while !stopping {
            do {
                if try connection.waitForInput(timeoutMilliseconds: 250) {
                    lastHeard = .now
                    state.withLock { $0.lastHeard = lastHeard }
                    for notification in try connection.consumeNotifications() {
                        emit(.notification(notification))
                    }
                } else if !connection.isConnected {
                    return
                } else if ContinuousClock.now - lastHeard >= probeInterval {
                    let timeout = probeTimeout.components
                    for notification in try connection.roundTrip(timeoutMilliseconds: Int32(timeout.seconds * 1000 + timeout.attoseconds / 1_000_000_000_000_000)) {
                        emit(.notification(notification))
                    }
                    lastHeard = .now
                    state.withLock { $0.lastHeard = lastHeard }
                }
            } catch {
                logger.warning("listener connection lost", metadata: ["error": "\(error)"])
                return
            }
        }
    }

    private func sleepInterruptibly(seconds: Double) {
        let deadline = Date().addingTimeInterval(seconds)
        while !stopping, Date() < deadline { Thread.sleep(forTimeInterval: min(0.05, seconds)) }
    }
}
