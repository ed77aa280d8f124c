import Foundation
import Logging
import Metrics
import ServiceLifecycle

/// Periodic per-tenant housekeeping (removing unused uploads, expiring chat requests). Runs in
/// every server process; each job takes a per-tenant advisory lock inside its own transaction
/// (pg_try_advisory_xact_lock), so at any moment one process acts for a tenant and the others
/// skip it — nothing to configure, and a crashed process's turn passes to the next.
public final class Maintenance: Service, Sendable {
    public struct Job: Sendable {
        public let name: String
        public let run: @Sendable (Tenant) async throws -> Void

        public init(name: String, run: @escaping @Sendable (Tenant) async throws -> Void) {
            self.name = name
            self.run = run
        }
    }

    let tenants: TenantStore
    let logger: Logger
    let jobs: [Job]
    let interval: Duration
    /// Passes run, and the time they took in all: a pass visits every brokerage, so its length
    /// grows with their number (an operator compares it with the interval).
    private let passes = Counter(label: "parley_maintenance_passes_total")
    private let passMilliseconds = Counter(label: "parley_maintenance_pass_milliseconds_total")

    public init(tenants: TenantStore, logger: Logger, jobs: [Job], interval: Duration = .seconds(60)) {
        self.tenants = tenants
        self.logger = logger
        self.jobs = jobs
        self.interval = interval
    }

    /// A pass every `interval` (jittered ±20 %, so processes started together spread out),
    /// the first one an interval after start: a restart wave does not become a query wave.
    public func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            let pause = interval * Double.random(in: 0.8...1.2)
            // Woken by a graceful shutdown too, not only by cancellation.
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: pause) }
            if Task.isCancelled || Task.isShuttingDownGracefully { return }
            await runOnce()
        }
    }

    /// One pass over every tenant and job (also what tests call).
    public func runOnce() async {
        let start = ContinuousClock.now
        var after: String?
        var visited = 0
        repeat {
            guard let page = try? await tenants.list(after: after, limit: 100) else { return }
            // A brokerage whose schema lacks a migration is left alone until it has it.
            for tenant in page where tenant.isServable {
                visited += 1
                for job in jobs {
                    if Task.isShuttingDownGracefully { return }
                    do {
                        try await job.run(tenant)
                    } catch {
                        logger.warning("maintenance job failed", metadata: [
                            "job": "\(job.name)", "tenant": "\(tenant.slug)", "error": "\(error)",
                        ])
                    }
                }
            }
            after = page.count == 100 ? page.last?.slug.rawValue : nil
        } while after != nil
        // Only a pass that visited every brokerage is counted (one cut short by a shutdown or an
        // unreachable database would make the mean look shorter than a pass is).
        let elapsed = ContinuousClock.now - start
        let milliseconds = Int64(elapsed.components.seconds) * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000
        passes.increment()
        passMilliseconds.increment(by: milliseconds)
        logger.info("maintenance pass", metadata: ["brokerages": "\(visited)", "ms": "\(milliseconds)"])
    }
}
