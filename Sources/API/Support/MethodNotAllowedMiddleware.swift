import HTTPTypes
import Hummingbird

/// A known path with a method it does not have answers 405 `method_not_allowed` with `Allow`
/// (RFC 9110 §15.5.6), not 404. The paths and their methods are the contract's
/// (`openapi.yaml`, compiled in), which every route is tested against.
struct MethodNotAllowedMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPError where error.status == .notFound && context.coreContext.endpointPath.value == "NotFound" {
            let path = request.uri.path.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
            guard let route = OpenAPIRoutes.all.first(where: { Self.matches($0.segments, Array(path)) }) else { throw error }
            var headers = HTTPFields()
            headers[.allow] = route.methods.joined(separator: ", ")
            throw Problem(.methodNotAllowed, code: "method_not_allowed",
                          detail: "\(request.method.rawValue) is not allowed here; use \(headers[.allow] ?? "")", headers: headers)
        }
    }

    static func matches(_ template: [Substring], _ path: [Substring]) -> Bool {
        template.count == path.count && zip(template, path).allSatisfy { $0.hasPrefix("{") ? !$1.isEmpty : $0 == $1 }
    }
}

/// The paths and methods of `openapi.yaml`: a path is a line `  /…:`, its methods the
/// `    get:`-style lines under it.
enum OpenAPIRoutes {
    static let all: [(segments: [Substring], methods: [String])] = {
        var routes: [(segments: [Substring], methods: [String])] = []
        let methods: Set<String> = ["get", "put", "post", "delete", "options", "head", "patch", "trace"]
        var inPaths = false
        for line in OpenAPIDocument.yaml.split(separator: "\n", omittingEmptySubsequences: false) {
            if line == "paths:" { inPaths = true; continue }
            guard inPaths else { continue }
            if !line.hasPrefix(" "), !line.isEmpty { break }
            if line.hasPrefix("  /"), line.hasSuffix(":") {
                let path = line.dropFirst(2).dropLast()
                routes.append((path.split(separator: "/", omittingEmptySubsequences: false).dropFirst().map { $0 }, []))
            } else if line.hasPrefix("    "), !line.hasPrefix("     "), line.hasSuffix(":"),
                methods.contains(String(line.dropFirst(4).dropLast())), !routes.isEmpty {
                routes[routes.count - 1].methods.append(line.dropFirst(4).dropLast().uppercased())
            }
        }
        return routes
    }()
}
