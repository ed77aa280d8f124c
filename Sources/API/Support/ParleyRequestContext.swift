import Domain
import Hummingbird
import NIOCore

/// The per-request context: Hummingbird's core storage plus the authenticated caller.
public struct ParleyRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// Set by `UserAuthMiddleware` on routes that need a user token.
    public var caller: Caller?
    /// Set by `IntegrationAuthMiddleware` on the directory integration's routes.
    public var integration: Integration?
    /// The TCP peer (rate limits of the public API; formatted only where used).
    public let remoteAddress: SocketAddress?

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.caller = nil
        self.integration = nil
        self.remoteAddress = source.channel.remoteAddress
    }

    /// JSON bodies above 1 MiB are refused with 413 (attachments have their own route).
    public var maxUploadSize: Int { 1 << 20 }

    /// The integration, or 401 if the route forgot its auth middleware.
    public func requireIntegration() throws -> Integration {
        guard let integration else { throw Problem.unauthorized(code: "missing_token", detail: "this endpoint needs an integration token") }
        return integration
    }

    /// The caller, or 401 if the route forgot its auth middleware (never a silent anonymous).
    public func requireCaller() throws -> Caller {
        guard let caller else { throw Problem.unauthorized(code: "missing_token", detail: "this endpoint needs a bearer token") }
        return caller
    }
}
