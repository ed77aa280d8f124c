import Foundation

/// Which address a request comes from, for per-IP limits.
public enum ClientIP {
    /// The client's address: the TCP peer, or with `trustedHops` proxies in front, the entry of
    /// `X-Forwarded-For` that the outermost trusted proxy saw (counted from the right, since
    /// each proxy appends; anything further left was written by the client and is not trusted).
    public static func resolve(forwardedFor: [String], peer: String?, trustedHops: Int) -> String {
        guard trustedHops > 0 else { return peer ?? "unknown" }
        let hops = forwardedFor.flatMap { $0.split(separator: ",") }.map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard !hops.isEmpty else { return peer ?? "unknown" }
        return hops[max(0, hops.count - trustedHops)]
    }
}
