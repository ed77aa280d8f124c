import Foundation
import JWTKit

/// The claims Parley reads from a user token (HS256, signed with one of the tenant's keys).
public struct UserClaims: JWTPayload, Equatable {
    /// Tenant slug.
    public var tid: String
    /// The user's id in the brokerage.
    public var sub: String
    /// `agent` or `client`.
    public var role: String
    /// Display name.
    public var name: String
    public var exp: ExpirationClaim
    public var iat: IssuedAtClaim?

    public init(tid: String, sub: String, role: String, name: String, expires: Date, issuedAt: Date? = Date()) {
        self.tid = tid
        self.sub = sub
        self.role = role
        self.name = name
        self.exp = ExpirationClaim(value: expires)
        self.iat = issuedAt.map { IssuedAtClaim(value: $0) }
    }

    /// jwt-kit calls this after the signature checks out. Expiry and claim rules are checked by
    /// `TokenVerifier` afterwards, so each failure gets its own problem code.
    public func verify(using algorithm: some JWTAlgorithm) async throws {}
}
