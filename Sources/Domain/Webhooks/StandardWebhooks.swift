import Crypto
import Foundation

/// Standard Webhooks 1.0 (https://www.standardwebhooks.com): secrets and signatures.
///
/// A secret is `whsec_` + the standard base64 of the key bytes. A signature is `v1,` + the
/// base64 of HMAC-SHA256(key, "<webhook-id>.<webhook-timestamp>.<body>"); the
/// `webhook-signature` header carries one per secret in use, separated by spaces.
public enum StandardWebhooks {
    static let prefix = "whsec_"

    /// A new secret: 32 random bytes.
    public static func newSecret() -> String {
        var generator = SystemRandomNumberGenerator()
        return prefix + Data((0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }).base64EncodedString()
    }

    /// The key bytes of a `whsec_…` secret, or nil if it is not one.
    public static func key(of secret: String) -> SymmetricKey? {
        guard secret.hasPrefix(prefix), let bytes = Data(base64Encoded: String(secret.dropFirst(prefix.count))),
            bytes.count >= 24, bytes.count <= 64
        else { return nil }
        return SymmetricKey(data: bytes)
    }

    /// `v1,<base64>` for one secret, or nil if the secret is not a `whsec_…` secret.
    public static func signature(id: String, timestamp: Int64, body: some DataProtocol, secret: String) -> String? {
        guard let key = key(of: secret) else { return nil }
        var message = Data("\(id).\(timestamp).".utf8)
        message.append(contentsOf: body)
        let mac = HMAC<SHA256>.authenticationCode(for: message, using: key)
        return "v1," + Data(mac).base64EncodedString()
    }

    /// The `webhook-signature` header: a signature per secret, space-separated.
    public static func signatureHeader(id: String, timestamp: Int64, body: some DataProtocol, secrets: [String]) -> String {
        secrets.compactMap { signature(id: id, timestamp: timestamp, body: body, secret: $0) }.joined(separator: " ")
    }
}
