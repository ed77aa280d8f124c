import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// One HTTP attempt of a webhook delivery (decision 0034): a signed POST, no redirect followed,
/// the whole attempt — name lookup, connecting, the answer — within `timeout`, and, unless the
/// operator allows the host, a connection only to an address checked here: the host is
/// resolved, every address it has must be public, and the request connects to the address that
/// was checked (TLS still verifies the certificate for the name). A name that resolves to an
/// internal address at delivery time is refused, whatever it resolved to at registration.
public final class WebhookSender: Sendable {
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
    /// The start of a response body kept for the log.
    static let keptBytes = 1000

    /// HTTP clients by the address they are pinned to ("" for allowed hosts, unpinned), so
    /// attempts to one receiver reuse its connections and TLS context. At most `maxClients`;
    /// the least recently used is shut down beyond that.
    private let clients = Mutex<[String: (client: HTTPClient, used: ContinuousClock.Instant)]>([:])
    static let maxClients = 64
    /// Name lookups block a thread: threads of their own, so a slow resolver delays nothing
    /// else. One pool per process, started on first use and kept (four idle threads).
    static let resolver: NIOThreadPool = {
        let pool = NIOThreadPool(numberOfThreads: 4)
        pool.start()
        return pool
    }()

    public init(policy: WebhookURLPolicy, timeout: Double) {
        self.policy = policy
        self.timeout = timeout
    }

    /// Closes every client (the deliverer's shutdown).
    public func shutdown() async {
        let all = clients.withLock { clients in
            defer { clients.removeAll() }
            return clients.values.map(\.client)
        }
        for client in all { try? await client.shutdown() }
    }

    /// Sends one attempt; never takes longer than `timeout` (plus scheduling).
    public func send(url: String, messageID: String, body: String, secrets: [String], now: Date = Date()) async -> Outcome {
        let started = ContinuousClock.now
        let progress = Progress()
        let finished = await Self.race(seconds: timeout) {
            await self.attempt(url: url, messageID: messageID, body: body, secrets: secrets, now: now, progress: progress)
        }
        var outcome = finished ?? progress.outcome(timeout: timeout)
        let duration = ContinuousClock.now - started
        outcome.latencyMilliseconds = Int(duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000)
        return outcome
    }

    /// What an attempt cut short by the deadline had: a status (the answer came in time; its
    /// body did not finish) or nothing (a timeout).
    final class Progress: Sendable {
        let state = Mutex<(status: Int?, retryAfter: Double?, kept: [UInt8])>((nil, nil, []))

        func outcome(timeout: Double) -> Outcome {
            state.withLock { state in
                guard let status = state.status else {
                    return Outcome(status: nil, error: "timeout: no answer within \(Int(timeout)) s", response: nil, retryAfter: nil, latencyMilliseconds: 0)
                }
                return Outcome(
                    status: status, error: nil, response: WebhookSender.text(state.kept), retryAfter: state.retryAfter, latencyMilliseconds: 0)
            }
        }
    }

    private func attempt(url: String, messageID: String, body: String, secrets: [String], now: Date, progress: Progress) async -> Outcome {
        func failure(_ error: String) -> Outcome {
            Outcome(status: nil, error: error, response: nil, retryAfter: nil, latencyMilliseconds: 0)
        }
        // The host as AsyncHTTPClient reads it (Foundation's URL), so the pin below is looked up
        // under the same key; a URL the two parsers read differently is refused.
        guard let parsed = URL(string: url), let host = parsed.host, !host.isEmpty,
            let components = URLComponents(string: url), let written = components.host,
            WebhookURLPolicy.normalized(written) == WebhookURLPolicy.normalized(host)
        else { return failure("invalid_url: \(url)") }
        var pin = ""
        if !policy.allowedHosts.contains(WebhookURLPolicy.normalized(host)) {
            let addresses: [String]
            do {
                addresses = try await resolve(WebhookURLPolicy.normalized(host))
            } catch is CancellationError {
                return failure("timeout: the name lookup took longer than \(Int(timeout)) s")
            } catch {
                return failure("dns: \(error)")
            }
            guard let first = addresses.first else { return failure("dns: \(host) has no address") }
            if let (address, reason) = addresses.lazy.compactMap({ a in WebhookURLPolicy.blockedReason(address: a).map { (a, $0) } }).first {
                return failure("blocked_address: \(host) resolves to \(address), \(reason)")
            }
            pin = first
        }
        let client = client(host: host, pinnedTo: pin)
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
            // A little before the overall deadline, so the client's own reason (a refused
            // connection it kept retrying, say) is what the log shows.
            let response = try await client.execute(request, deadline: .now() + .milliseconds(Int64(timeout * 950)))
            let status = Int(response.status.code)
            let retryAfter = Self.retryAfter(response.headers.first(name: "retry-after"), now: now)
            progress.state.withLock { $0.status = status; $0.retryAfter = retryAfter }
            // Only the start of the answer is kept (the log shows it); the rest is not read.
            do {
                for try await chunk in response.body {
                    let full = progress.state.withLock { state -> Bool in
                        state.kept += chunk.readableBytesView.prefix(Self.keptBytes - state.kept.count)
                        return state.kept.count >= Self.keptBytes
                    }
                    if full { break }
                }
            } catch {
                // The status came; a body cut short does not change the outcome.
            }
            return Outcome(
                status: status, error: nil, response: Self.text(progress.state.withLock { $0.kept }), retryAfter: retryAfter,
                latencyMilliseconds: 0)
        } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout || error == .connectTimeout {
            return failure("timeout: no answer within \(Int(timeout)) s")
        } catch {
            return failure("connection: \(error)")
        }
    }

    /// The client for `host` pinned to `address` ("": resolved by the client itself).
    private func client(host: String, pinnedTo address: String) -> HTTPClient {
        let key = address.isEmpty ? "" : host + "\u{0}" + address
        let (client, evicted) = clients.withLock { clients -> (HTTPClient, [HTTPClient]) in
            if clients[key] != nil {
                clients[key]?.used = .now
                if let client = clients[key]?.client { return (client, []) }
            }
            var configuration = HTTPClient.Configuration(
                redirectConfiguration: .disallow,
                timeout: .init(connect: .milliseconds(Int64(min(timeout, 10) * 1000)), read: .milliseconds(Int64(timeout * 1000))),
                // Many brokerages may point at one CRM: an endpoint holding connections must not
                // make another wait for one (each endpoint has at most 4 attempts in flight).
                connectionPool: .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: 1000))
            configuration.httpVersion = .http1Only
            if !address.isEmpty { configuration.dnsOverride = [host: address] }
            let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
            clients[key] = (client, .now)
            var evicted: [HTTPClient] = []
            while clients.count > Self.maxClients, let oldest = clients.min(by: { $0.value.used < $1.value.used }) {
                evicted.append(oldest.value.client)
                clients[oldest.key] = nil
            }
            return (client, evicted)
        }
        // An evicted client's attempts in flight are cut short (and retried on the schedule).
        for old in evicted { Task { try? await old.shutdown() } }
        return client
    }

    /// Text for the log: valid UTF-8 (invalid bytes replaced), without NUL characters, which
    /// PostgreSQL text cannot hold.
    static func text(_ bytes: [UInt8]) -> String {
        String(decoding: bytes, as: UTF8.self).replacingOccurrences(of: "\u{0}", with: "")
    }

    /// `operation`, or nil if `seconds` pass first. The operation is then cancelled and not
    /// waited for: the deadline holds even for a step that reacts to cancellation late.
    static func race<T: Sendable>(seconds: Double, _ operation: @escaping @Sendable () async -> T) async -> T? {
        let once = OnceContinuation<T?>()
        let work = Task {
            let value = await operation()
            once.resume(.success(value))
        }
        let timer = Task {
            try? await Task.sleep(for: .milliseconds(Int64(seconds * 1000)))
            once.resume(.success(nil))
        }
        let first = try? await withCheckedThrowingContinuation { once.set($0) }
        work.cancel()
        timer.cancel()
        return first ?? nil
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

    /// Every address of `host` (a literal address is its own), looked up on the resolver's
    /// threads. Cancellation returns at once (CancellationError); the lookup finishes unseen.
    func resolve(_ host: String) async throws -> [String] {
        let once = OnceContinuation<[String]>()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                once.set(continuation)
                Self.resolver.submit { state in
                    guard state == .active else { return once.resume(.failure(CancellationError())) }
                    once.resume(Result { try Self.getaddrinfo(host) })
                }
            }
        } onCancel: {
            once.resume(.failure(CancellationError()))
        }
    }

    /// A continuation resumed once, by whichever comes first (a result, a cancellation, a deadline).
    final class OnceContinuation<Value: Sendable>: Sendable {
        private let state = Mutex<(continuation: CheckedContinuation<Value, any Error>?, early: Result<Value, any Error>?, done: Bool)>(
            (nil, nil, false))

        func set(_ continuation: CheckedContinuation<Value, any Error>) {
            let early = state.withLock { state -> Result<Value, any Error>? in
                if let early = state.early { return early }
                state.continuation = continuation
                return nil
            }
            if let early { continuation.resume(with: early) }
        }

        func resume(_ result: Result<Value, any Error>) {
            let continuation = state.withLock { state -> CheckedContinuation<Value, any Error>? in
                guard !state.done else { return nil }
                state.done = true
                guard let continuation = state.continuation else {
                    state.early = result
                    return nil
                }
                state.continuation = nil
                return continuation
            }
            continuation?.resume(with: result)
        }
    }

    static func getaddrinfo(_ host: String) throws -> [String] {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let status = Glibc.getaddrinfo(host, nil, &hints, &list)
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

    struct ResolveError: Error, CustomStringConvertible {
        let message: String
        var description: String { message }
    }
}
