import Domain
import Foundation
import Hummingbird

/// The operator API: provisioning brokerages and rotating their signing keys.
struct TenantRoutes {
    let tenants: TenantStore
    let verifier: TokenVerifier

    func register(on group: RouterGroup<ParleyRequestContext>) {
        group.post(use: create)
        group.get(use: list)
        group.get(":slug", use: get)
        group.patch(":slug/settings", use: updateSettings)
        group.post(":slug/signing-keys", use: addKey)
        group.delete(":slug/signing-keys/:kid", use: retireKey)
    }

    struct CreateBody: Decodable {
        let slug: String?
        let name: String?
    }

    struct TenantView: Codable, Sendable {
        let id: String
        let slug: String
        let name: String
        let schema: String
        let createdAt: Date
        let settings: TenantSettings
        /// Served by this server (its schema has every migration); false after a failed migration.
        let available: Bool
        /// The newest tenant migration applied completely to its schema.
        let schemaVersion: Int
        /// Why the last migration attempt failed, for the operator (absent after a success).
        let migrationError: String?
        /// What it stores against its quotas (`GET /v1/tenants/{slug}` only).
        let usage: Usage?

        struct Usage: Codable, Sendable {
            /// Bytes of all its attachments, sent or not (limited by `settings.maxStorageBytes`).
            let attachmentBytes: Int64
        }

        init(_ tenant: Tenant, usage: Usage? = nil) {
            self.usage = usage
            id = tenant.id.lowercased
            slug = tenant.slug.rawValue
            name = tenant.displayName
            schema = tenant.scope.schema.rawValue
            createdAt = tenant.createdAt
            settings = tenant.settings
            available = tenant.isServable
            schemaVersion = tenant.migratedVersion
            migrationError = tenant.migrationError
        }
    }

    struct KeyView: ResponseCodable, Sendable {
        let kid: String
        /// base64url of the 32-byte HS256 secret. Shown once, when the key is made.
        let secret: String
        let algorithm: String
        let createdAt: Date

        init(_ key: SigningKey) {
            kid = key.kid
            secret = Base64URL.encode(key.secret)
            algorithm = "HS256"
            createdAt = key.createdAt
        }
    }

    struct CreatedTenant: ResponseEncodable {
        let tenant: TenantView
        let signingKey: KeyView
    }

    @Sendable func create(_ request: Request, context: ParleyRequestContext) async throws -> EditedResponse<CreatedTenant> {
        let body = try await request.decodeJSON(as: CreateBody.self, context: context)
        var validator = Validator()
        var slug: TenantSlug?
        if let text = body.slug {
            slug = TenantSlug(text)
            if slug == nil { validator.add("slug", "invalid_format", "slug must be \(TenantSlug.rule)") }
        } else {
            validator.add("slug", "required", "slug is required")
        }
        validator.requireText(body.name, "name", maxLength: 200)
        try validator.check()
        guard let slug, let name = body.name else { throw Problem.validation(validator.errors) }
        let (tenant, key) = try await tenants.create(slug: slug, displayName: name)
        await verifier.invalidate(slug)
        context.logger.info("tenant created", metadata: ["tenant": "\(slug)"])
        var headers = HTTPFields()
        headers[.location] = "/v1/tenants/\(slug)"
        return EditedResponse(status: .created, headers: headers, response: CreatedTenant(tenant: TenantView(tenant), signingKey: KeyView(key)))
    }

    @Sendable func list(_ request: Request, context: ParleyRequestContext) async throws -> Page<TenantView> {
        let limit = try pageLimit(request)
        let after = request.uri.queryParameters["after"].map(String.init)
        let page = try await tenants.list(after: after, limit: limit + 1)
        let items = page.prefix(limit).map { TenantView($0) }
        return Page(items: Array(items), nextCursor: page.count > limit ? items.last?.slug : nil)
    }

    @Sendable func get(_ request: Request, context: ParleyRequestContext) async throws -> JSONBody<TenantView> {
        let tenant = try await tenant(context)
        // A brokerage whose migration failed may lack the usage table: shown without usage.
        let usage = tenant.isServable ? TenantView.Usage(attachmentBytes: try await tenants.storageUsage(tenant)) : nil
        return JSONBody(TenantView(tenant, usage: usage))
    }

    /// JSON merge patch (RFC 7396) of the settings: a key set to null returns to its default.
    @Sendable func updateSettings(_ request: Request, context: ParleyRequestContext) async throws -> JSONBody<TenantView> {
        let tenant = try await tenant(context)
        let buffer = try await request.body.collect(upTo: context.maxUploadSize)
        guard let patch = (try? JSONSerialization.jsonObject(with: Data(buffer: buffer))) as? [String: Any] else {
            throw Problem.badRequest(code: "malformed_json", detail: "the body must be a JSON object")
        }
        var current = (try JSONSerialization.jsonObject(with: JSONEncoder().encode(tenant.settings))) as? [String: Any] ?? [:]
        let known = Set(TenantSettings.CodingKeys.allCases.map(\.stringValue))
        let unknown = patch.keys.filter { !known.contains($0) }.sorted()
        if !unknown.isEmpty {
            throw Problem.validation(unknown.map { FieldError($0, "unknown_field", "\($0) is not a setting") })
        }
        for (key, value) in patch {
            if value is NSNull { current[key] = nil } else { current[key] = value }
        }
        let settings = try JSONDecoder().decode(TenantSettings.self, from: JSONSerialization.data(withJSONObject: current))
        let updated = try await tenants.updateSettings(tenant, settings)
        await verifier.invalidate(tenant.slug)
        context.logger.info("tenant settings changed", metadata: ["tenant": "\(tenant.slug)"])
        return JSONBody(TenantView(updated))
    }

    @Sendable func addKey(_ request: Request, context: ParleyRequestContext) async throws -> EditedResponse<KeyView> {
        let tenant = try await tenant(context)
        let key = try await tenants.addKey(tenant)
        await verifier.invalidate(tenant.slug)
        return EditedResponse(status: .created, response: KeyView(key))
    }

    @Sendable func retireKey(_ request: Request, context: ParleyRequestContext) async throws -> HTTPResponse.Status {
        let tenant = try await tenant(context)
        let kid = try context.parameters.require("kid")
        try await tenants.retireKey(tenant, kid: kid)
        await verifier.invalidate(tenant.slug)
        return .noContent
    }

    private func tenant(_ context: ParleyRequestContext) async throws -> Tenant {
        try await Self.tenant(context, in: tenants)
    }

    /// The brokerage named by the path's `:slug`, or 404 `tenant_not_found`.
    static func tenant(_ context: ParleyRequestContext, in tenants: TenantStore) async throws -> Tenant {
        let text = try context.parameters.require("slug")
        guard let slug = TenantSlug(text), let tenant = try await tenants.find(slug) else {
            throw Problem.notFound(code: "tenant_not_found", detail: "no tenant with that slug")
        }
        return tenant
    }
}
