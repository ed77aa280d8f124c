import Foundation
import HTTPTypes
import Hummingbird

func bearerToken(_ request: Request) -> String? {
    bearerToken(authorization: request.headers[.authorization])
}

/// The token of an `Authorization: Bearer …` header value.
///
/// Read as bytes (it runs on every request): the scheme `Bearer` in any case, one or more spaces,
/// then the token without the spaces and tabs around it (RFC 9110 §11.6.2).
func bearerToken(authorization header: String?) -> String? {
    guard let header else { return nil }
    let bytes = Array(header.utf8)
    let scheme = Array("bearer".utf8)
    guard bytes.count > scheme.count, bytes[scheme.count] == UInt8(ascii: " "),
        zip(bytes, scheme).allSatisfy({ byte, letter in byte | 0x20 == letter })
    else { return nil }
    func isSpace(_ byte: UInt8) -> Bool { byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") }
    guard let start = bytes[scheme.count...].firstIndex(where: { !isSpace($0) }),
        let end = bytes.lastIndex(where: { !isSpace($0) })
    else { return nil }
    return String(decoding: bytes[start...end], as: UTF8.self)
}
