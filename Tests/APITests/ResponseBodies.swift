import Domain
import Foundation

// Bodies the API answers that have no type in Domain (they are assembled in Sources/API/Routes),
// as the tests decode them. Everything else decodes into the Domain's own Codable types.

/// A tenant as the operator API shows it (`TenantRoutes.TenantView`).
struct TenantBody: Decodable {
    let id: String
    let slug: String
    let name: String
    let schema: String
    let createdAt: Date
    let settings: TenantSettings
}

/// A signing key as shown once, when it is made (`TenantRoutes.KeyView`).
struct SigningKeyBody: Decodable {
    let kid: String
    /// base64url of the HS256 secret.
    let secret: String
    let algorithm: String
    let createdAt: Date
}

/// POST /v1/tenants (`TenantRoutes.CreatedTenant`).
struct CreatedTenantBody: Decodable {
    let tenant: TenantBody
    let signingKey: SigningKeyBody
}

/// GET /v1/me (`MeRoutes.Me`).
struct MeBody: Decodable {
    let tenant: String
    let tenantName: String
    let sub: String
    let role: Caller.Role
    let name: String
}

/// GET /ready (`SystemRoutes.Readiness`).
struct ReadinessBody: Decodable {
    let status: String
    let checks: [String: String]
}

/// A public chat-request submission's answer (`ChatRequestRoutes.Submitted`).
struct SubmittedBody: Decodable {
    let id: String
    let status: ChatRequest.Status
    let createdAt: Date
    let expiresAt: Date
    /// Only on the submission that created the request.
    let visitorToken: String?
}

/// POST /v1/chat-requests/{id}/accept (`ChatRequestRoutes.Accepted`).
struct AcceptedBody: Decodable {
    let request: ChatRequest
    let session: Session
}

/// POST /v1/sessions/{id}/typing (`LiveRoutes.TypingResult`).
struct TypingBody: Decodable {
    let sent: Bool
}
