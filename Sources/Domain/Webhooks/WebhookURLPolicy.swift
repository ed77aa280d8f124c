import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Which webhook URLs a brokerage may register (issue 19, point 5; decision 0033): `https`
/// only, and never an address inside the deployment's network — loopback, private, link-local
/// (cloud metadata), carrier-grade NAT, unspecified, multicast — unless the operator allows
/// that host (`PARLEY_WEBHOOK_ALLOWED_HOSTS`), which then may also use plain `http`.
///
/// A name is checked here as written; the address it resolves to is checked again when a
/// delivery connects (a name can point anywhere).
public struct WebhookURLPolicy: Sendable {
    /// Hosts the operator allows (lowercased, as written in URLs: `127.0.0.1`, `[::1]` → `::1`).
    public let allowedHosts: Set<String>

    public init(allowedHosts: some Sequence<String> = []) {
        self.allowedHosts = Set(allowedHosts.map { Self.normalized($0) }.filter { !$0.isEmpty })
    }

    /// `PARLEY_WEBHOOK_ALLOWED_HOSTS`: hosts separated by commas or spaces.
    public init(environment value: String?) {
        self.init(allowedHosts: (value ?? "").split(whereSeparator: { $0 == "," || $0 == " " }).map(String.init))
    }

    static func normalized(_ host: String) -> String {
        var host = host.trimmingCharacters(in: .whitespaces).lowercased()
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        if host.hasSuffix(".") { host.removeLast() }
        return host
    }

    /// The URL as it will be called, or a validation error on `field`.
    public func validate(_ text: String, field: String = "url") throws -> URL {
        func refuse(_ code: String, _ message: String) -> DomainError {
            .validation([FieldError(field, code, message)])
        }
        guard text.utf8.count <= 2000 else { throw refuse("too_long", "at most 2,000 characters") }
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased(),
            let rawHost = components.host, !rawHost.isEmpty, let url = components.url
        else { throw refuse("invalid_url", "an absolute https URL") }
        guard components.user == nil, components.password == nil else {
            throw refuse("invalid_url", "credentials in the URL are not accepted; put them in the path or query")
        }
        guard components.fragment == nil else { throw refuse("invalid_url", "a URL without a fragment (#…)") }
        let host = Self.normalized(rawHost)
        let allowed = allowedHosts.contains(host)
        guard scheme == "https" || (scheme == "http" && allowed) else {
            throw refuse("https_required", "webhook URLs use https (plain http only for hosts the operator allows)")
        }
        if !allowed, let reason = Self.blockedReason(host: host) {
            throw refuse("blocked_address", "\(host) is \(reason): not reachable for webhooks unless the operator allows it")
        }
        return url
    }

    /// Why a host must not be called, or nil: names that mean this machine or the cloud's
    /// metadata service, and addresses outside the public internet.
    public static func blockedReason(host: String) -> String? {
        let host = normalized(host)
        if host == "localhost" || host.hasSuffix(".localhost") { return "this machine" }
        if host == "metadata.google.internal" || host.hasSuffix(".internal") { return "an internal name" }
        if let v4 = IPv4(host) { return v4.blockedReason }
        if host.contains(":") { return IPv6Check.blockedReason(host) }
        return nil
    }

    /// The reason an address (as a connection would use it) must not be called, or nil.
    public static func blockedReason(address: String) -> String? {
        if let v4 = IPv4(address) { return v4.blockedReason }
        return IPv6Check.blockedReason(address)
    }

    struct IPv4 {
        let octets: [UInt8]

        /// Dotted-quad only (`inet_aton`'s other forms, like `2130706433`, are refused as
        /// names by `URLComponents` users anyway, and are checked again at connect time).
        init?(_ text: String) {
            let parts = text.split(separator: ".", omittingEmptySubsequences: false)
            guard parts.count == 4 else { return nil }
            var octets: [UInt8] = []
            for part in parts {
                guard !part.isEmpty, part.count <= 3, part.allSatisfy(\.isASCII), part.allSatisfy(\.isNumber),
                    let value = UInt8(part)
                else { return nil }
                octets.append(value)
            }
            self.octets = octets
        }

        var blockedReason: String? {
            let (a, b) = (octets[0], octets[1])
            switch a {
            case 0: return "an unspecified address"
            case 10: return "a private address"
            case 127: return "a loopback address"
            case 169 where b == 254: return "a link-local address (cloud metadata)"
            case 172 where (16...31).contains(b): return "a private address"
            case 192 where b == 168: return "a private address"
            case 100 where (64...127).contains(b): return "a carrier-grade NAT address"
            case 192 where b == 0 && octets[2] == 0: return "a reserved address"
            case 198 where b == 18 || b == 19: return "a benchmarking address"
            case 224...255: return "a multicast or reserved address"
            default: return nil
            }
        }
    }

    enum IPv6Check {
        static func blockedReason(_ text: String) -> String? {
            var address = in6_addr()
            guard inet_pton(AF_INET6, text, &address) == 1 else { return "not a valid address" }
            let bytes = withUnsafeBytes(of: address) { Array($0) }
            if bytes.allSatisfy({ $0 == 0 }) { return "an unspecified address" }
            if bytes[0..<15].allSatisfy({ $0 == 0 }) && bytes[15] == 1 { return "a loopback address" }
            // IPv4-mapped (::ffff:a.b.c.d): the IPv4 address decides.
            if bytes[0..<10].allSatisfy({ $0 == 0 }) && bytes[10] == 0xff && bytes[11] == 0xff {
                return IPv4("\(bytes[12]).\(bytes[13]).\(bytes[14]).\(bytes[15])")?.blockedReason
            }
            // IPv4 embedded by a translator: NAT64 (64:ff9b::/96 and the local 64:ff9b:1::/48,
            // the address in the last four bytes) and 6to4 (2002::/16, in bytes 2–5). The
            // IPv4 address decides, as for a mapped one.
            if bytes[0..<12] == [0x00, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0] {
                return IPv4("\(bytes[12]).\(bytes[13]).\(bytes[14]).\(bytes[15])")?.blockedReason
            }
            if bytes[0..<6] == [0x00, 0x64, 0xff, 0x9b, 0x00, 0x01] { return "a local NAT64 address" }
            if bytes[0] == 0x20 && bytes[1] == 0x02 {
                return IPv4("\(bytes[2]).\(bytes[3]).\(bytes[4]).\(bytes[5])")?.blockedReason
            }
            if bytes[0] & 0xfe == 0xfc { return "a private address" }
            if bytes[0] == 0xfe && bytes[1] & 0xc0 == 0x80 { return "a link-local address" }
            if bytes[0] == 0xff { return "a multicast address" }
            return nil
        }
    }
}
