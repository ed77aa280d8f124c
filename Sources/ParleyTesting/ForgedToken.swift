import DatabaseTesting
import Foundation

/// A token as an attacker makes one: any `tid`, a `kid` and signature of nothing, a valid shape
/// and expiry (for the tests and the bench of requests that cannot be authenticated).
public enum ForgedToken {
    public static func make(tid: String) -> String {
        func encode(_ text: String) -> String {
            Data(text.utf8).base64EncodedString().replacingOccurrences(of: "+", with: "-")
                .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
        }
        let expires = Int(Date().timeIntervalSince1970) + 600
        return encode(#"{"alg":"HS256","typ":"JWT","kid":"forged"}"#) + "."
            + encode(#"{"tid":"\#(tid)","sub":"a","role":"agent","name":"A","exp":\#(expires)}"#) + "."
            + encode(randomName("signature-", length: 32))
    }
}
