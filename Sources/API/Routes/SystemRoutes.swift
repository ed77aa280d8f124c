import Database
import Domain
import Foundation
import Hummingbird
import Prometheus

/// /health, /ready, /metrics, /openapi.yaml: no auth, no tenant.
struct SystemRoutes {
    let database: Database
    let tenants: TenantStore
    let listener: NotificationListener
    let metrics: PrometheusCollectorRegistry

    func register(on router: Router<ParleyRequestContext>) {
        // Process liveness: answers without touching the database or the pool.
        router.get("health") { _, _ in
            Status(status: "ok")
        }
        router.get("ready", use: ready)
        // Reached only without an upgrade (upgrades are answered before routing): HTTP's
        // answer is 426 naming the protocol (RFC 9110 §15.5.22), not 404.
        router.get("v1/stream") { _, _ -> Response in
            var headers = HTTPFields()
            headers[.upgrade] = "websocket"
            headers[.connection] = "Upgrade"
            throw Problem(.upgradeRequired, code: "upgrade_required",
                          detail: "the stream is a WebSocket: send the upgrade headers (docs/STREAM.md)", headers: headers)
        }
        router.get("metrics") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: metrics.emitToBuffer())))
        }
        router.get("openapi.yaml") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "application/yaml; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(string: OpenAPIDocument.yaml)))
        }
    }

    struct Status: ResponseEncodable {
        let status: String
    }

    struct Readiness: ResponseEncodable {
        let status: String
        let checks: [String: String]
    }

    /// Ready when the database answers and the LISTEN connection is up; 503 problem otherwise.
    /// Brokerages whose migration failed are counted under `checks.tenants` and make the status
    /// `degraded`, still 200: the process serves every other brokerage, and taking it out of
    /// the balancer would take them down too. They are not named: this answers anyone who can
    /// reach the port, and a brokerage's name is its customers' business; the operator API
    /// (`GET /v1/tenants/{slug}`, `available`, `migrationError`) and the migration's log name them.
    @Sendable func ready(_ request: Request, context: ParleyRequestContext) async throws -> Readiness {
        var checks: [String: String] = [:]
        var unavailable = 0
        do {
            unavailable = try await tenants.unavailableCount()
            checks["database"] = "ok"
        } catch {
            context.logger.warning("readiness: database check failed", metadata: ["error": "\(error)"])
            checks["database"] = "unavailable"
        }
        checks["listener"] = listener.isListening ? "ok" : "unavailable"
        guard checks.values.allSatisfy({ $0 == "ok" }) else {
            throw Problem(.serviceUnavailable, code: "not_ready", detail: "a dependency is unavailable", extensions: checks)
        }
        guard unavailable == 0 else {
            checks["tenants"] = "\(unavailable) unavailable (migration incomplete; the operator API names them)"
            return Readiness(status: "degraded", checks: checks)
        }
        checks["tenants"] = "ok"
        return Readiness(status: "ready", checks: checks)
    }
}
