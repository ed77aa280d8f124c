import Database
import Foundation

/// A brokerage: one schema, one role, its own signing keys.
public struct Tenant: Sendable, Hashable {
    public let id: UUID
    public let slug: TenantSlug
    public let displayName: String
    public let scope: TenantScope
    public let createdAt: Date
}

/// A tenant slug as it appears in tokens (`tid`) and URLs: 2–40 of `a-z 0-9 _ -`.
/// Its schema is `t_<slug>` with `-` mapped to `_`; its role `parley_t_<slug>`.
public struct TenantSlug: Hashable, Sendable, CustomStringConvertible, Codable {
    public let rawValue: String

    public init?(_ rawValue: String) {
        let bytes = Array(rawValue.utf8)
        guard (2...40).contains(bytes.count),
            bytes.allSatisfy({ (97...122).contains($0) || (48...57).contains($0) || $0 == 95 || $0 == 45 })
        else { return nil }
        self.rawValue = rawValue
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let slug = TenantSlug(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "invalid tenant slug"))
        }
        self = slug
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }

    public var description: String { rawValue }

    /// The tenant's schema and role. Both are valid `SQLName`s by construction of the slug.
    public var scope: TenantScope {
        let base = "t_" + rawValue.replacingOccurrences(of: "-", with: "_")
        guard let schema = SQLName(base), let role = SQLName("parley_" + base) else {
            preconditionFailure("a valid slug always makes valid schema and role names")
        }
        return TenantScope(schema: schema, role: role)
    }

    /// The rule, for error messages and the OpenAPI document.
    public static let rule = "2–40 characters: lowercase letters a–z, digits 0–9, '_' and '-'"
}

/// An HS256 secret a brokerage backend uses to sign its users' tokens.
public struct SigningKey: Sendable, Hashable {
    public let kid: String
    public let secret: [UInt8]
    public let createdAt: Date
    public let retiredAt: Date?

    public init(kid: String, secret: [UInt8], createdAt: Date, retiredAt: Date?) {
        self.kid = kid
        self.secret = secret
        self.createdAt = createdAt
        self.retiredAt = retiredAt
    }

    /// 32 random bytes (jwt-kit requires at least 32 for HS256) from the system CSPRNG.
    static func generate() -> (kid: String, secret: [UInt8]) {
        var generator = SystemRandomNumberGenerator()
        let secret = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        let kidBytes = (0..<12).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        return (Base64URL.encode(kidBytes), secret)
    }
}

public enum Base64URL {
    public static func encode(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    public static func decode(_ text: String) -> [UInt8]? {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        return Data(base64Encoded: base64).map { [UInt8]($0) }
    }
}
