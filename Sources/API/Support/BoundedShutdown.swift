import Domain
import Hummingbird
import Logging
import ServiceLifecycle

/// Runs the application until SIGTERM or SIGINT, then shuts it down within `timeout`
/// (docs/decisions/0014-bounded-shutdown.md):
/// 1. live streams close first, with 1001 and the cursor to resume from on another process
///    (streams opened meanwhile too), so clients move before the listener goes;
/// 2. the server stops accepting, closes idle connections and lets in-flight requests finish;
/// 3. at 3/4 of `timeout` whatever is still open — a half-sent request, a client that never
///    reads — is cancelled and its connection dropped;
/// 4. `onDeadline` runs if the process is still here at `timeout` (the caller stops the
///    embedded cluster and exits): nothing a client does keeps the process alive longer.
public func runWithBoundedShutdown(
    _ app: some ApplicationProtocol, dependencies: AppDependencies, timeout: Duration, logger: Logger,
    onDeadline: @escaping @Sendable () -> Void
) async throws {
    var configuration = ServiceGroupConfiguration(
        services: [
            .init(service: app),
            // Last in the list: the first to hear of the shutdown.
            .init(service: StreamCloser(dispatcher: dependencies.dispatcher, timeout: timeout, logger: logger, onDeadline: onDeadline)),
        ],
        gracefulShutdownSignals: [.sigterm, .sigint],
        logger: logger)
    configuration.maximumGracefulShutdownDuration = timeout * 3 / 4
    try await ServiceGroup(configuration: configuration).run()
}

/// Waits for the shutdown signal, arms the deadline, closes every stream with 1001 and waits
/// (briefly) for the sockets to close before the server is told to stop.
struct StreamCloser: Service {
    let dispatcher: EventDispatcher
    let timeout: Duration
    let logger: Logger
    let onDeadline: @Sendable () -> Void

    func run() async throws {
        do {
            try await gracefulShutdown()
        } catch {
            return  // cancelled: the group is ending for another reason
        }
        let started = ContinuousClock.now
        logger.notice("shutting down", metadata: ["timeout_s": "\(timeout.components.seconds)", "streams": "\(dispatcher.subscriptionCount)"])
        // Unstructured on purpose: cancellation of the group must not cancel the deadline.
        Task.detached { [timeout, onDeadline] in
            try? await Task.sleep(until: started + timeout, clock: .continuous)
            onDeadline()
        }
        dispatcher.closeAllStreams()
        let left = await dispatcher.waitForStreamsToEnd(within: timeout / 4)
        if left > 0 { logger.warning("streams still open after their close frame", metadata: ["streams": "\(left)"]) }
    }
}
