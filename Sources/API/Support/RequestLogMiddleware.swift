import Hummingbird
import Logging

/// Logs each request's method and target at `level`, as Hummingbird's `LogRequestsMiddleware`
/// does, with the value of an `access_token` query parameter replaced: a browser's stream may
/// carry its token there (docs/STREAM.md), and a plain GET of `/v1/stream?access_token=…` (a
/// proxy that drops `Upgrade`, a curl) is routed, so its token would reach the debug log.
struct RequestLogMiddleware<Context: RequestContext>: RouterMiddleware {
    let level: Logger.Level

    init(_ level: Logger.Level) { self.level = level }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if context.logger.logLevel <= level {
            context.logger.log(level: level, "Request", metadata: [
                "hb.request.path": .string(Self.redacted(request.uri.description)),
                "hb.request.method": .string(request.method.rawValue),
            ])
        }
        return try await next(request, context)
    }

    /// `target` with every `access_token=` value replaced by `[redacted]`.
    static func redacted(_ target: String) -> String {
        guard let query = target.firstIndex(of: "?") else { return target }
        let pairs = target[target.index(after: query)...].split(separator: "&", omittingEmptySubsequences: false).map { pair in
            pair.lowercased().hasPrefix("access_token=") ? "access_token=[redacted]" : String(pair)
        }
        return String(target[..<query]) + "?" + pairs.joined(separator: "&")
    }
}
