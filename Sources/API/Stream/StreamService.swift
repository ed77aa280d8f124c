import Domain
import Foundation
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import Synchronization

/// GET /v1/stream, the live event stream (protocol in docs/STREAM.md): what a stream needs
/// beyond its socket — the token check, the subscription, typing, the credential watch — for
/// `StreamHandler`, which serves each upgraded connection on its event loop.
final class StreamService: Sendable {
    let verifier: TokenVerifier
    let dispatcher: EventDispatcher
    let typing: TypingService
    let users: UserDirectory
    /// Re-verifies every open stream's token (AppConfiguration.streamCredentialCheck).
    let watch: CredentialWatch
    /// One outbox per event loop, made on first use (`LoopOutbox`).
    private let outboxes = Mutex<[ObjectIdentifier: LoopOutbox]>([:])

    init(verifier: TokenVerifier, dispatcher: EventDispatcher, typing: TypingService, users: UserDirectory, watch: CredentialWatch) {
        self.verifier = verifier
        self.dispatcher = dispatcher
        self.typing = typing
        self.users = users
        self.watch = watch
    }

    /// Close codes (RFC 6455 allows 4000–4999 for applications).
    enum CloseCode {
        /// Also: the token expired, its key was retired, or a visitor's request closed while
        /// the stream was open (StreamTermination.credentialsEnded).
        static let unauthorized: UInt16 = 4401
        /// The token is good but may not open a stream (an integration's token).
        static let forbidden: UInt16 = 4403
        static let authTimeout: UInt16 = 4408
        /// The upgrade request's query was not acceptable (e.g. `after` is not a cursor).
        static let badRequest: UInt16 = 4400
        /// The user has `StreamLimits.maxStreamsPerUser` streams open.
        static let tooManyStreams: UInt16 = 4429
        /// RFC 6455 "try again later": the process has `StreamLimits.maxStreams` open, or the
        /// brokerage or database is unavailable.
        static let tryAgainLater: UInt16 = 1013
        /// RFC 6455 "internal error": the stream could not be opened for a reason of ours.
        static let internalError: UInt16 = 1011
    }

    struct Credentials {
        let token: String
        let caller: Caller
        let expires: Date
    }

    /// Why a stream is refused: an `error` frame with `code` and `message`, then `closeCode`.
    struct Refusal: Error, Sendable {
        let code: String
        let message: String
        let closeCode: UInt16
    }

    struct Opened: Sendable {
        let caller: Caller
        let subscription: Subscription
        let cursor: Int64
    }

    /// The handler of one upgraded connection, with what its upgrade request said.
    func handler(for head: HTTPRequestHead, channel: any Channel, logger: Logger) -> StreamHandler {
        let uri = URI(head.uri)
        let after: Result<Int64?, Refusal>
        do {
            after = .success(try Self.cursor(uri))
        } catch {
            let problem = ProblemMapping.problem(for: error)
            after = .failure(Refusal(code: problem.code, message: problem.errors?.first?.message ?? problem.detail ?? "bad query", closeCode: CloseCode.badRequest))
        }
        return StreamHandler(service: self, outbox: outbox(for: channel.eventLoop), token: Self.token(head.headers, uri), after: after, logger: logger)
    }

    /// The bearer token of the Authorization header, or `access_token` of the query.
    static func token(_ headers: HTTPHeaders, _ uri: URI) -> String? {
        bearerToken(authorization: headers.first(name: "authorization"))
            ?? uri.queryParameters["access_token"].map(String.init).flatMap { $0.isEmpty ? nil : $0 }
    }

    static func cursor(_ uri: URI) throws -> Int64? {
        try uri.queryInt("after", range: 0...Int64.max)
    }

    func outbox(for loop: any EventLoop) -> LoopOutbox {
        outboxes.withLock { outboxes in
            if let outbox = outboxes[ObjectIdentifier(loop)] { return outbox }
            let outbox = LoopOutbox(loop: loop)
            outboxes[ObjectIdentifier(loop)] = outbox
            return outbox
        }
    }

    /// Verifies the token, records the user and subscribes with `sink`; throws `Refusal`.
    func open(token: String, after: Int64?, sink: any StreamSink) async throws(Refusal) -> Opened {
        do {
            let (caller, expires) = try await verifier.verifyWithExpiry(token)
            await users.record(caller)
            let (subscription, cursor) = try await dispatcher.subscribe(caller, after: after, sink: sink)
            watch.add(subscription, Credentials(token: token, caller: caller, expires: expires))
            return Opened(caller: caller, subscription: subscription, cursor: cursor)
        } catch let limit as StreamLimitReached {
            let problem = ProblemMapping.problem(for: limit)
            throw Refusal(code: problem.code, message: problem.detail ?? problem.title,
                          closeCode: limit == .user ? CloseCode.tooManyStreams : CloseCode.tryAgainLater)
        } catch {
            // 401s close with 4401, 403s (an integration's token) with 4403; an unavailable
            // brokerage or database (503) with "try again later". Anything else is ours (1011),
            // which a client retries: a token that can never open a stream must not get it.
            let problem = ProblemMapping.problem(for: error)
            let close = switch problem.status {
            case .unauthorized: CloseCode.unauthorized
            case .forbidden: CloseCode.forbidden
            case .serviceUnavailable: CloseCode.tryAgainLater
            default: CloseCode.internalError
            }
            throw Refusal(code: problem.code, message: problem.detail ?? "the stream could not be opened", closeCode: close)
        }
    }

    /// The stream's socket closed: it is no longer watched or offered anything.
    func release(_ subscription: Subscription) {
        watch.remove(subscription)
        subscription.terminate(.clientClosed)
        dispatcher.unsubscribe(subscription)
    }
}
