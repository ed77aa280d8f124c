import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
#if canImport(Glibc)
import Glibc
#endif

/// One HTTP attempt of a webhook delivery (decision 0034): a signed POST, no redirect followed,
/// a deadline, and — unless the operator allows the host — a connection only to an address
/// checked here: the host is resolved, every address it has must be public, and the request
/// connects to the address that was checked (TLS still verifies the certificate for the name).
/// A name that resolves to an internal address at delivery time is refused, whatever it
/// resolved to when the endpoint was registered.
public struct WebhookSender: Sendable {
    public struct Outcome: Sendable, Equatable {
        /// The HTTP status, or nil when no response came (refused, timed out, blocked).
        public var status: Int?
        public var error: String?
        /// The start of the response body, for the delivery log.
        public var response: String?
        /// `Retry-After`, in seconds from now, when the response carried one.
        public var retryAfter: Double?
        public var latencyMilliseconds: Int

        public var succeeded: Bool { status.map { (200...299).contains($0) } ?? false }
    }

    public let policy: WebhookURLPolicy
    public let timeout: Double
    public static let userAgent = "Parley-Webhooks/1.0"

    public init(policy: WebhookURLPolicy, timeout: Double) {
        self.policy = policy
        self.timeout = timeout
    }

    public func send(url: String, messageID: String, body: String, secrets: [String], now: Date = Date()) async -> Outcome {
        let started = ContinuousClock.now
        func elapsed() -> Int {
            let duration = ContinuousClock.now - started
            return Int(duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000)
        }
        func failure(_ error: String) -> Outcome {
            Outcome(status: nil, error: error, response: nil, retryAfter: nil, latencyMilliseconds: elapsed())
        }
        guard let components = URLComponents(string: url), let rawHost = components.host, !rawHost.isEmpty else {
            return failure("invalid_url: \(url)")
        }
        let host = WebhookURLPolicy.normalized(rawHost)
        var configuration = HTTPClient.Configuration(
            redirectConfiguration: .disallow,
            timeout: .init(connect: .milliseconds(Int64(min(timeout, 10) * 1000)), read: .milliseconds(Int64(timeout * 1000))))
        configuration.httpVersion = .http1Only
        if !policy.allowedHosts.contains(host) {
            let addresses: [String]
            do {
                addresses = try await Self.resolve(host)
            } catch {
                return failure("dns: \(error)")
            }
            guard let first = addresses.first else { return failure("dns: \(host) has no address") }
            if let (address, reason) = addresses.lazy.compactMap({ a in WebhookURLPolicy.blockedReason(address: a).map { (a, $0) } }).first {
                return failure("blocked_address: \(host) resolves to \(address), \(reason)")
            }
            // Connect to the address just checked, not to whatever a second lookup returns.
            configuration.dnsOverride = [rawHost: first]
        }
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        let outcome = await post(client, url: url, messageID: messageID, body: body, secrets: secrets, now: now, elapsed: elapsed)
        try? await client.shutdown()
        return outcome
    }

    private func post(
        _ client: HTTPClient, url: String, messageID: String, body: String, secrets: [String], now: Date, elapsed: () -> Int
    ) async -> Outcome {
        let timestamp = Int64(now.timeIntervalSince1970)
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "content-type", value: "application/json")
        request.headers.add(name: "user-agent", value: Self.userAgent)
        request.headers.add(name: "webhook-id", value: messageID)
        request.headers.add(name: "webhook-timestamp", value: String(timestamp))
        request.headers.add(
            name: "webhook-signature",
            value: StandardWebhooks.signatureHeader(id: messageID, timestamp: timestamp, body: Array(body.utf8), secrets: secrets))
        request.body = .bytes(ByteBuffer(string: body))
        do {
            let response = try await client.execute(request, deadline: .now() + .milliseconds(Int64(timeout * 1000)))
            // Only the start of the answer is kept (the log shows it); the rest is not read.
            var kept = ByteBuffer()
            do {
                for try await var chunk in response.body {
                    if let slice = chunk.readSlice(length: min(chunk.readableBytes, 1000 - kept.readableBytes)) {
                        kept.writeImmutableBuffer(slice)
                    }
                    if kept.readableBytes >= 1000 { break }
                }
            } catch {
                // A status came; a body cut short does not change the outcome.
            }
            return Outcome(
                status: Int(response.status.code), error: nil, response: String(decoding: kept.readableBytesView, as: UTF8.self),
                retryAfter: Self.retryAfter(response.headers.first(name: "retry-after"), now: now), latencyMilliseconds: elapsed())
        } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout || error == .connectTimeout {
            return Outcome(status: nil, error: "timeout: no answer within \(Int(timeout)) s", response: nil, retryAfter: nil, latencyMilliseconds: elapsed())
        } catch {
            return Outcome(status: nil, error: "connection: \(error)", response: nil, retryAfter: nil, latencyMilliseconds: elapsed())
        }
    }

    /// `Retry-After` as seconds from `now`: a number of seconds or an HTTP date.
    static func retryAfter(_ value: String?, now: Date) -> Double? {
        guard let value = value?.trimmingCharacters(in: .whitespaces), !value.isEmpty else { return nil }
        if let seconds = Double(value), seconds >= 0, seconds.isFinite { return seconds }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        guard let date = formatter.date(from: value) else { return nil }
        return max(0, date.timeIntervalSince(now))
    }

    /// Every address of `host` (a literal address is its own), looked up off the event loops.
    static func resolve(_ host: String) async throws -> [String] {
        try await NIOThreadPool.singleton.runIfActive {
            var hints = addrinfo()
            hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
            var list: UnsafeMutablePointer<addrinfo>?
            let status = getaddrinfo(host, nil, &hints, &list)
            guard status == 0 else { throw ResolveError(message: String(cString: gai_strerror(status))) }
            defer { freeaddrinfo(list) }
            var addresses: [String] = []
            var next = list
            while let entry = next {
                var buffer = [CChar](repeating: 0, count: Int(NI_MAXHOST))
                if getnameinfo(entry.pointee.ai_addr, entry.pointee.ai_addrlen, &buffer, socklen_t(buffer.count), nil, 0, NI_NUMERICHOST) == 0 {
                    let address = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                    if !addresses.contains(address) { addresses.append(address) }
                }
                next = entry.pointee.ai_next
            }
            return addresses
        }
    }

    struct ResolveError: Error, CustomStringConvertible {
        let message: String
        var description: String { message }
    }
}
