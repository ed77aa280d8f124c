import Foundation
import HTTPTypes
import Hummingbird

func bearerToken(_ request: Request) -> String? {
    bearerToken(authorization: request.headers[.authorization])
}

/// The token of an `Authorization: Bearer …` header value.
func bearerToken(authorization header: String?) -> String? {
    guard let header else { return nil }
    let parts = header.split(separator: " ", maxSplits: 1)
    guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
    let token = parts[1].trimmingCharacters(in: .whitespaces)
    return token.isEmpty ? nil : token
}
