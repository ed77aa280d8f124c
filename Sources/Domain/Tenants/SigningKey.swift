import Foundation

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
