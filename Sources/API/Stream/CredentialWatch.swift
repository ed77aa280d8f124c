import Domain
import Foundation
import ServiceLifecycle
import Synchronization

/// Ends open streams whose credentials end: each stream's token is verified again every
/// `interval` and at the moment it expires. A token that no longer verifies (expired, signing
/// key retired, a visitor's request declined or expired) gets an `error` frame with the
/// problem code and the stream closes with 4401; a brokerage that became unavailable closes
/// with 1013 (`tenant_unavailable`); a database that cannot be asked keeps it open.
///
/// One loop for every stream of the process instead of a sleeping task per stream: a task
/// keeps the memory its deepest call ever needed until it ends, and an idle stream should cost
/// as little as possible (docs/decisions/0020-stream-fan-out.md).
final class CredentialWatch: Service, Sendable {
    struct Entry {
        let credentials: StreamService.Credentials
        let subscription: Subscription
        var due: Date
    }

    let verifier: TokenVerifier
    /// `streamCredentialCheck`, in seconds.
    let interval: TimeInterval
    /// How often the loop looks for due entries (the precision of a check's time).
    let tick: Duration
    private let entries = Mutex<[UUID: Entry]>([:])

    init(verifier: TokenVerifier, interval: Duration, tick: Duration = .milliseconds(100)) {
        self.verifier = verifier
        self.interval = Double(interval.components.seconds) + Double(interval.components.attoseconds) / 1e18
        self.tick = tick
    }

    /// Watches `subscription`'s credentials until `remove`.
    func add(_ subscription: Subscription, _ credentials: StreamService.Credentials) {
        let entry = Entry(credentials: credentials, subscription: subscription, due: nextCheck(after: Date(), expires: credentials.expires))
        entries.withLock { $0[subscription.id] = entry }
    }

    func remove(_ subscription: Subscription) {
        _ = entries.withLock { $0.removeValue(forKey: subscription.id) }
    }

    /// A brokerage's row or keys changed (nil: changes may have been missed): its streams are
    /// checked at the next tick instead of at their next interval, so a retired key ends them at
    /// once (decision 0022). Call after the verifier has dropped what it cached.
    func tenantChanged(_ slug: String?) {
        let now = Date()
        entries.withLock { entries in
            for (id, entry) in entries where slug == nil || entry.subscription.tenant.slug.rawValue == slug {
                entries[id]?.due = now
            }
        }
    }

    /// The next check: after `interval`, or just after the token expires if that is sooner.
    private func nextCheck(after now: Date, expires: Date) -> Date {
        min(now.addingTimeInterval(interval), expires.addingTimeInterval(0.05))
    }

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do { try await Task.sleep(for: self.tick) } catch { return }
                await self.checkDue()
            }
        }
    }

    /// Verifies every entry that is due; ends the streams whose token no longer verifies.
    func checkDue() async {
        let now = Date()
        let due = entries.withLock { entries in entries.values.filter { $0.due <= now } }
        for entry in due {
            do {
                _ = try await verifier.verify(entry.credentials.token)
            } catch let problem as Problem {
                // A token that no longer verifies ends with 4401 (get a new one); a brokerage
                // that became unavailable (503) with 1013, as its streams are refused at their
                // opening then: the token is still good, and a client told 4401 would drop it.
                let unavailable = problem.status == .serviceUnavailable
                entry.subscription.push(.error(code: problem.code, message: problem.detail ?? "the token no longer verifies"))
                entry.subscription.terminate(unavailable ? .unavailable(problem.code) : .credentialsEnded(problem.code))
                remove(entry.subscription)
                continue
            } catch {
                // The database could not be asked: keep the stream, ask again next time.
            }
            let next = nextCheck(after: Date(), expires: entry.credentials.expires)
            entries.withLock { entries in entries[entry.subscription.id]?.due = next }
        }
    }
}
