import Domain
import Foundation

/// Server frames as JSON text (docs/STREAM.md).
enum Frames {
    static func hello(cursor: Int64, caller: Caller) -> String {
        object([
            "type": "hello", "cursor": String(cursor), "tenant": caller.tenant.slug.rawValue,
            "userId": caller.userID, "role": caller.role.rawValue,
        ])
    }

    static func error(code: String, message: String) -> String {
        object(["type": "error", "code": code, "message": message])
    }

    static func encode(_ frame: StreamFrame) -> String {
        switch frame {
        case .event(let event):
            // `data` is stored JSON; it is spliced as is, not re-encoded.
            var text = #"{"type":"event","id":"\#(event.position)","event":"\#(event.type)""#
            if let session = event.sessionID { text += #","sessionId":"\#(session)""# }
            return text + #","data":\#(event.data)}"#
        case .typing(let sessionID, let userID, let name, let until):
            return object(["type": "typing", "sessionId": sessionID, "userId": userID, "name": name, "until": ParleyJSON.format(until)])
        case .error(let code, let message):
            return error(code: code, message: message)
        case .pong:
            return #"{"type":"pong"}"#
        }
    }

    private static func object(_ fields: [String: String?]) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(fields)).map { String(decoding: $0, as: UTF8.self) } ?? #"{"type":"error"}"#
    }
}
