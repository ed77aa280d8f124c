import Database
import Foundation

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
