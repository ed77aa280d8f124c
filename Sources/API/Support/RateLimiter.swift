import Foundation
import Synchronization

/// Token buckets in process memory: `limit` per hour, refilled continuously. Checked before
/// anything touches the database, so a flood costs a dictionary lookup. Per process: with N
/// processes a client gets up to N × the limit (documented in README).
final class RateLimiter: Sendable {
    private struct Bucket {
        var tokens: Double
        var updated: ContinuousClock.Instant
    }

    private let buckets = Mutex<[String: Bucket]>([:])
    private let maxKeys: Int

    init(maxKeys: Int = 100_000) {
        self.maxKeys = maxKeys
    }

    /// nil when allowed (and counted); otherwise the seconds until the next token.
    func take(_ key: String, perHour limit: Int, now: ContinuousClock.Instant = .now) -> Int? {
        let rate = Double(limit) / 3600
        return buckets.withLock { buckets in
            var bucket = buckets[key] ?? Bucket(tokens: Double(limit), updated: now)
            bucket.tokens = min(Double(limit), bucket.tokens + (now - bucket.updated) / .seconds(1) * rate)
            bucket.updated = now
            if bucket.tokens >= 1 {
                bucket.tokens -= 1
                buckets[key] = bucket
                if buckets.count > maxKeys { Self.evictFull(&buckets, now: now, max: maxKeys) }
                return nil
            }
            buckets[key] = bucket
            return max(1, Int(((1 - bucket.tokens) / rate).rounded(.up)))
        }
    }

    /// Drops buckets idle for an hour (they would be full again); if that is not enough (a
    /// flood from very many addresses), drops the least recently used half, so memory and the
    /// time spent here stay bounded (forgetting a bucket only ever errs towards allowing).
    private static func evictFull(_ buckets: inout [String: Bucket], now: ContinuousClock.Instant, max: Int) {
        buckets = buckets.filter { now - $0.value.updated < .seconds(3600) }
        if buckets.count > max {
            let keep = buckets.sorted { $0.value.updated > $1.value.updated }.prefix(max / 2)
            buckets = Dictionary(uniqueKeysWithValues: keep.map { ($0.key, $0.value) })
        }
    }
}
