import Database
import Foundation

/// A brokerage: one schema, one role, its own signing keys.
public struct Tenant: Sendable, Hashable {
    public let id: UUID
    public let slug: TenantSlug
    public let displayName: String
    public let scope: TenantScope
    public let createdAt: Date
    public var settings: TenantSettings = TenantSettings()
}

/// Per-brokerage limits and switches (`parley.tenants.settings`, changed with
/// `PATCH /v1/tenants/{slug}/settings`). Absent keys take the defaults below.
public struct TenantSettings: Codable, Sendable, Hashable {
    /// Largest attachment, in bytes (default 10 MiB).
    public var maxAttachmentBytes: Int = 10 * 1024 * 1024
    /// Attachments per message (default 5).
    public var maxAttachmentsPerMessage: Int = 5
    /// Hours a chat request stays pending before it expires (default 72).
    public var chatRequestTTLHours: Int = 72
    /// The agent who receives chat requests that name none.
    public var defaultAgentId: String?
    /// Origins (`https://example.com`) whose pages may call the public chat-request API.
    public var allowedOrigins: [String] = []
    /// Public submissions per client IP per hour, and per tenant per hour.
    public var chatRequestsPerIPPerHour: Int = 10
    public var chatRequestsPerHour: Int = 1000

    public init() {}

    public enum CodingKeys: String, CodingKey, CaseIterable {
        case maxAttachmentBytes, maxAttachmentsPerMessage, chatRequestTTLHours, defaultAgentId, allowedOrigins
        case chatRequestsPerIPPerHour, chatRequestsPerHour
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = TenantSettings()
        maxAttachmentBytes = try c.decodeIfPresent(Int.self, forKey: .maxAttachmentBytes) ?? d.maxAttachmentBytes
        maxAttachmentsPerMessage = try c.decodeIfPresent(Int.self, forKey: .maxAttachmentsPerMessage) ?? d.maxAttachmentsPerMessage
        chatRequestTTLHours = try c.decodeIfPresent(Int.self, forKey: .chatRequestTTLHours) ?? d.chatRequestTTLHours
        defaultAgentId = try c.decodeIfPresent(String.self, forKey: .defaultAgentId)
        allowedOrigins = try c.decodeIfPresent([String].self, forKey: .allowedOrigins) ?? d.allowedOrigins
        chatRequestsPerIPPerHour = try c.decodeIfPresent(Int.self, forKey: .chatRequestsPerIPPerHour) ?? d.chatRequestsPerIPPerHour
        chatRequestsPerHour = try c.decodeIfPresent(Int.self, forKey: .chatRequestsPerHour) ?? d.chatRequestsPerHour
    }

    /// Every out-of-range value, listed.
    public func validate() throws {
        var v = Validator()
        if !(1...(100 * 1024 * 1024)).contains(maxAttachmentBytes) { v.add("maxAttachmentBytes", "out_of_range", "1 byte to 100 MiB") }
        if !(1...20).contains(maxAttachmentsPerMessage) { v.add("maxAttachmentsPerMessage", "out_of_range", "1 to 20") }
        if !(1...8760).contains(chatRequestTTLHours) { v.add("chatRequestTTLHours", "out_of_range", "1 to 8760 hours") }
        if let agent = defaultAgentId, agent.isEmpty || agent.count > 200 { v.add("defaultAgentId", "invalid_value", "1 to 200 characters") }
        if allowedOrigins.count > 50 { v.add("allowedOrigins", "too_many", "at most 50 origins") }
        for (index, origin) in allowedOrigins.enumerated() where !Self.isOrigin(origin) {
            v.add("allowedOrigins.\(index)", "invalid_format", "an origin is scheme://host[:port], e.g. https://example.com")
        }
        if !(1...100_000).contains(chatRequestsPerIPPerHour) { v.add("chatRequestsPerIPPerHour", "out_of_range", "1 to 100000") }
        if !(1...10_000_000).contains(chatRequestsPerHour) { v.add("chatRequestsPerHour", "out_of_range", "1 to 10000000") }
        try v.check()
    }

    /// `http(s)://host[:port]` with nothing after the authority, lower-case.
    static func isOrigin(_ text: String) -> Bool {
        guard text.count <= 255, text == text.lowercased(), let url = URL(string: text),
            let scheme = url.scheme, ["http", "https"].contains(scheme), let host = url.host, !host.isEmpty
        else { return false }
        let port = url.port.map { ":\($0)" } ?? ""
        return "\(scheme)://\(host)\(port)" == text
    }
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
