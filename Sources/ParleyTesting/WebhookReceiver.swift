import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Synchronization

/// A local HTTP server that receives webhooks for tests (issue 19): `POST /hook/{name}` is
/// recorded and answered as the test planned for that name — a status (with `Retry-After`), or
/// a hang — and 200 when nothing is planned.
public final class WebhookReceiver: Sendable {
    public struct Received: Sendable {
        public let name: String
        public let headers: [String: String]
        public let body: String
        public let at: Date

        public func header(_ name: String) -> String? { headers[name.lowercased()] }
    }

    public enum Reply: Sendable {
        case status(Int, retryAfter: String? = nil, location: String? = nil)
        /// Answers 200 only after this long (longer than the sender's timeout: a hanging endpoint).
        case hang(Duration)
        /// Answers with this status and body (any bytes).
        case body(Int, [UInt8])
        /// Answers 200 at once, then one byte of body every `every`, `count` times.
        case drip(every: Duration, count: Int)
    }

    actor Log {
        var received: [Received] = []
        var plans: [String: [Reply]] = [:]
        var inFlight: [String: Int] = [:]
        var mostInFlight: [String: Int] = [:]

        func finish(_ name: String) { inFlight[name, default: 1] -= 1 }

        func record(_ request: Received) -> Reply {
            received.append(request)
            inFlight[request.name, default: 0] += 1
            mostInFlight[request.name] = max(mostInFlight[request.name] ?? 0, inFlight[request.name] ?? 0)
            guard var plan = plans[request.name], !plan.isEmpty else { return .status(200) }
            let reply = plan.removeFirst()
            plans[request.name] = plan
            return reply
        }

        func plan(_ name: String, _ replies: [Reply]) { plans[name, default: []].append(contentsOf: replies) }
        func replan(_ name: String, _ replies: [Reply]) { plans[name] = replies }
        func all() -> [Received] { received }
    }

    let log = Log()
    public let port: Int

    init(port: Int) {
        self.port = port
    }

    public func url(_ name: String) -> String { "http://127.0.0.1:\(port)/hook/\(name)" }

    /// The next requests to `name` get these replies, in order.
    public func plan(_ name: String, _ replies: [Reply]) async { await log.plan(name, replies) }

    /// The most requests to `name` that were being answered at once.
    public func mostInFlight(_ name: String) async -> Int { await log.mostInFlight[name] ?? 0 }

    /// Replaces what is still planned for `name` (empty: 200 from now on).
    public func replan(_ name: String, _ replies: [Reply]) async { await log.replan(name, replies) }

    /// Everything received for `name`, in arrival order.
    public func received(_ name: String) async -> [Received] { await log.all().filter { $0.name == name } }

    /// Waits until `name` has received at least `count` requests (or `within` passes).
    @discardableResult
    public func waitFor(_ name: String, count: Int, within: Duration = .seconds(20)) async -> [Received] {
        let deadline = ContinuousClock.now + within
        while ContinuousClock.now < deadline {
            let got = await received(name)
            if got.count >= count { return got }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return await received(name)
    }

    /// Runs a receiver on a loopback port for the duration of `body`.
    public static func run<T: Sendable>(_ body: @Sendable (WebhookReceiver) async throws -> T) async throws -> T {
        let box = ReceiverBox()
        let router = Router()
        router.post("hook/:name") { request, context -> Response in
            let name = try context.parameters.require("name")
            let bytes = try await request.body.collect(upTo: 1 << 20)
            var headers: [String: String] = [:]
            for field in request.headers { headers[field.name.canonicalName] = field.value }
            guard let receiver = box.receiver else { return Response(status: .serviceUnavailable) }
            let reply = await receiver.log.record(
                Received(name: name, headers: headers, body: String(buffer: bytes), at: Date()))
            // Counted as answered once the reply is decided (a hang: once it ends).
            if case .hang = reply {} else { await receiver.log.finish(name) }
            switch reply {
            case .status(let code, let retryAfter, let location):
                var fields = HTTPFields()
                if let retryAfter { fields[.retryAfter] = retryAfter }
                if let location { fields[.location] = location }
                return Response(status: .init(code: code), headers: fields)
            case .hang(let duration):
                try? await Task.sleep(for: duration)
                await receiver.log.finish(name)
                return Response(status: .ok)
            case .body(let code, let bytes):
                return Response(status: .init(code: code), body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
            case .drip(let every, let count):
                return Response(status: .ok, body: ResponseBody(contentLength: count) { writer in
                    for _ in 0..<count {
                        try await writer.write(ByteBuffer(string: "."))
                        try await Task.sleep(for: every)
                    }
                    try await writer.finish(nil)
                })
            }
        }
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        return try await app.test(.live) { live in
            guard let port = live.port else { throw ServerProcess.Failure("the webhook receiver has no port") }
            let receiver = WebhookReceiver(port: port)
            box.receiver = receiver
            return try await body(receiver)
        }
    }
}

/// The receiver, set once the server has its port (before any request can name it).
final class ReceiverBox: Sendable {
    private let value = Mutex<WebhookReceiver?>(nil)

    var receiver: WebhookReceiver? {
        get { value.withLock { $0 } }
        set { value.withLock { $0 = newValue } }
    }
}
