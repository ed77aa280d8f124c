import Foundation

/// Base64url without padding (RFC 4648 §5), for key ids, cursors and tokens. Works on bytes:
/// every request decodes its token's payload with this, and Foundation's string replacement
/// cost more than the rest of the token check together (decision 0020).
public enum Base64URL {
    public static func encode(_ bytes: [UInt8]) -> String {
        var base64 = [UInt8](Data(bytes).base64EncodedData())
        while base64.last == UInt8(ascii: "=") { base64.removeLast() }
        for index in base64.indices {
            switch base64[index] {
            case UInt8(ascii: "+"): base64[index] = UInt8(ascii: "-")
            case UInt8(ascii: "/"): base64[index] = UInt8(ascii: "_")
            default: break
            }
        }
        return String(decoding: base64, as: UTF8.self)
    }

    public static func decode(_ text: String) -> [UInt8]? {
        decode(bytes: Array(text.utf8))
    }

    public static func decode(bytes: [UInt8]) -> [UInt8]? {
        var base64 = bytes
        for index in base64.indices {
            switch base64[index] {
            case UInt8(ascii: "-"): base64[index] = UInt8(ascii: "+")
            case UInt8(ascii: "_"): base64[index] = UInt8(ascii: "/")
            default: break
            }
        }
        while base64.count % 4 != 0 { base64.append(UInt8(ascii: "=")) }
        return Data(base64Encoded: Data(base64)).map { [UInt8]($0) }
    }
}
