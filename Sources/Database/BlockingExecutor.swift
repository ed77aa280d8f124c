import NIOPosix

/// The threads on which libpq calls run.
///
/// libpq blocks; Swift's cooperative pool has one thread per core (two here), so a blocking
/// call there would stall every other task. Every libpq call in Parley goes through `run`,
/// which hops to a dedicated `NIOThreadPool` and resumes the caller when the call returns.
/// The pool has one thread per database connection, so a leased connection never waits for
/// a thread.
public final class BlockingExecutor: Sendable {
    private let threads: NIOThreadPool

    public init(threads count: Int) {
        self.threads = NIOThreadPool(numberOfThreads: max(count, 1))
        self.threads.start()
    }

    /// Runs `body` on a blocking-allowed thread and returns its result.
    public func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await threads.runIfActive(body)
    }

    public func shutdown() async {
        try? await threads.shutdownGracefully()
    }
}
