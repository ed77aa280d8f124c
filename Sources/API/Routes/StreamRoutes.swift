import Domain
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdWebSocket
import Logging
import NIOWebSocket

/// GET /v1/stream: the live event stream (protocol in docs/STREAM.md).
struct StreamRoutes {
    let verifier: TokenVerifier
    let dispatcher: EventDispatcher
    let typing: TypingService
    let users: UserDirectory
    /// Re-verifies every open stream's token (AppConfiguration.streamCredentialCheck).
    let watch: CredentialWatch

    /// Close codes (RFC 6455 allows 4000–4999 for applications).
    enum CloseCode {
        /// Also: the token expired, its key was retired, or a visitor's request closed while
        /// the stream was open (StreamTermination.credentialsEnded).
        static let unauthorized: UInt16 = 4401
        static let authTimeout: UInt16 = 4408
        /// The upgrade request's query was not acceptable (e.g. `after` is not a cursor).
        static let badRequest: UInt16 = 4400
        /// The user has `StreamLimits.maxStreamsPerUser` streams open.
        static let tooManyStreams: UInt16 = 4429
        /// RFC 6455 "try again later": the process has `StreamLimits.maxStreams` open.
        static let tryAgainLater: UInt16 = 1013
    }

    func register(on router: Router<StreamRequestContext>) {
        // Every upgrade is accepted; a refusal (bad token, bad cursor, too many streams) is an
        // `error` frame and a close code, the one answer a browser's WebSocket can see (a
        // refused upgrade reaches it only as close 1006, and the WebSocket library could only
        // send a bare 400).
        router.ws("v1/stream", shouldUpgrade: { _, _ in .upgrade([:]) }, onUpgrade: { inbound, outbound, context in
            try await session(inbound: inbound, outbound: outbound, request: context.request, logger: context.logger)
        })
    }

    static func token(_ request: Request) -> String? {
        bearerToken(request) ?? request.uri.queryParameters["access_token"].map(String.init).flatMap { $0.isEmpty ? nil : $0 }
    }

    static func cursor(_ request: Request) throws -> Int64? {
        try request.queryInt("after", range: 0...Int64.max)
    }

    private func session(inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter, request: Request, logger: Logger) async throws {
        var frames = inbound.messages(maxSize: 16 * 1024).makeAsyncIterator()
        let opened: Opened?
        do {
            let after: Int64?
            do {
                after = try Self.cursor(request)
            } catch let problem as Problem {
                throw StreamFailure(code: problem.code, message: problem.errors?.first?.message ?? problem.detail ?? "bad query", closeCode: CloseCode.badRequest)
            }
            let token = try await token(request, frames: &frames, outbound: outbound)
            // Everything that opens the stream (token check, user record, subscription, hello)
            // runs in a task of its own: a task keeps the memory its deepest call needed until
            // it ends, and this one lives as long as the stream (decision 0020).
            opened = try await Task { try await open(token: token, after: after, outbound: outbound) }.value
        } catch let failure as StreamFailure {
            try await Task { try await refuse(failure, outbound: outbound) }.value
            return
        }
        guard let opened else { return }
        let (caller, credentials, subscription) = (opened.credentials.caller, opened.credentials, opened.subscription)
        var logger = logger
        logger[metadataKey: "tenant"] = "\(caller.tenant.slug)"
        logger[metadataKey: "user"] = "\(caller.userID)"
        let reader = StreamReader(caller: caller, subscription: subscription, typing: typing, logger: logger)
        // The writer drains the subscription's outbox into the socket; when the dispatcher
        // ends the stream on purpose (slow consumer, shutdown) it closes the socket with that code.
        let writer = Task {
            for await frame in subscription.frames {
                do {
                    try await outbound.write(Frames.outbound(frame))
                } catch {
                    break
                }
                subscription.didWrite(frame)
            }
            if let termination = subscription.termination, termination != .clientClosed {
                let reason = subscription.closeReason(termination)
                logger.info("closing stream", metadata: ["code": "\(termination.closeCode)", "reason": "\(reason)"])
                try? await outbound.close(.unknown(termination.closeCode), reason: reason)
            }
        }
        watch.add(subscription, credentials)
        await reader.read(&frames)
        watch.remove(subscription)
        subscription.terminate(.clientClosed)
        dispatcher.unsubscribe(subscription)
        await writer.value
    }

    struct Credentials {
        let token: String
        let caller: Caller
        let expires: Date
    }

    struct StreamFailure: Error {
        let code: String
        let message: String
        let closeCode: UInt16
    }

    struct Opened {
        let credentials: Credentials
        let subscription: Subscription
    }

    /// Verifies the token, records the user, subscribes and says hello; nil when the stream
    /// was refused (too many streams: the error frame and close were sent).
    private func open(token: String, after: Int64?, outbound: WebSocketOutboundWriter) async throws -> Opened? {
        let credentials = try await verify(token)
        await users.record(credentials.caller)
        let subscription: Subscription
        let cursor: Int64
        do {
            (subscription, cursor) = try await dispatcher.subscribe(credentials.caller, after: after)
        } catch let limit as StreamLimitReached {
            let problem = ProblemMapping.problem(for: limit)
            try await refuse(
                StreamFailure(code: problem.code, message: problem.detail ?? problem.title,
                              closeCode: limit == .user ? CloseCode.tooManyStreams : CloseCode.tryAgainLater),
                outbound: outbound)
            return nil
        }
        do {
            try await outbound.write(.text(Frames.hello(cursor: cursor, caller: credentials.caller)))
        } catch {
            subscription.terminate(.clientClosed)
            dispatcher.unsubscribe(subscription)
            throw error
        }
        return Opened(credentials: credentials, subscription: subscription)
    }

    /// An `error` frame with the problem code, then the close code.
    private func refuse(_ failure: StreamFailure, outbound: WebSocketOutboundWriter) async throws {
        try await outbound.write(.text(Frames.error(code: failure.code, message: failure.message)))
        try await outbound.close(.unknown(failure.closeCode), reason: failure.code)
    }

    /// The token from the header or `access_token`, or from a first `auth` frame within 10 s.
    private func token(_ request: Request, frames: inout WebSocketMessageIterator, outbound: WebSocketOutboundWriter) async throws -> String {
        if let token = Self.token(request) { return token }
        // No token in the request: the first frame must bring one, within 10 s.
        let timer = Task {
            try await Task.sleep(for: .seconds(10))
            try await refuse(StreamFailure(code: "auth_timeout", message: "send an auth frame first", closeCode: CloseCode.authTimeout), outbound: outbound)
        }
        defer { timer.cancel() }
        guard let message = try await frames.next() else {
            throw StreamFailure(code: "auth_timeout", message: "send an auth frame first", closeCode: CloseCode.authTimeout)
        }
        timer.cancel()
        guard case .text(let text) = message, let frame = ClientFrame.decode(text), frame.type == "auth", let token = frame.token else {
            throw StreamFailure(code: "auth_required", message: "the first frame must be {\"type\":\"auth\",\"token\":…}", closeCode: CloseCode.unauthorized)
        }
        return token
    }

    private func verify(_ token: String) async throws -> Credentials {
        do {
            let (caller, expires) = try await verifier.verifyWithExpiry(token)
            return Credentials(token: token, caller: caller, expires: expires)
        } catch let problem as Problem {
            // 401s close with 4401; a brokerage that is unavailable (503) with "try again later".
            let close = problem.status == .serviceUnavailable ? CloseCode.tryAgainLater : CloseCode.unauthorized
            throw StreamFailure(code: problem.code, message: problem.detail ?? "invalid token", closeCode: close)
        }
    }
}

typealias WebSocketMessageIterator = WebSocketInboundMessageStream.AsyncIterator
