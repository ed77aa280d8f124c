import Foundation

#if canImport(Glibc)
import Glibc
#endif

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

    /// The key an address is rate limited under: an IPv4 address itself, an IPv6 address's /64
    /// (one subscriber's network: a client rotating addresses inside it stays one client), and
    /// anything unparsable as it is.
    public static func limitKey(_ address: String) -> String {
        var bytes = [UInt8](repeating: 0, count: 16)
        guard address.contains(":"), inet_pton(AF_INET6, address, &bytes) == 1 else { return address }
        // An IPv4-mapped IPv6 address is that IPv4 address.
        if bytes[0..<10].allSatisfy({ $0 == 0 }), bytes[10] == 0xFF, bytes[11] == 0xFF {
            return bytes[12..<16].map(String.init).joined(separator: ".")
        }
        let prefix = stride(from: 0, to: 8, by: 2).map { String(UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]), radix: 16) }
        return prefix.joined(separator: ":") + "::/64"
    }
}
