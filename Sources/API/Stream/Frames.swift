import Domain
import Foundation
import NIOCore
import NIOWebSocket

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

    /// A frame for NIO's encoder. An event's frame normally skips the encoder: its bytes are
    /// encoded once for every socket (`StoredEvent.wire`, written by `StreamHandler.flushBatch`).
    static func outbound(_ frame: StreamFrame) -> WebSocketFrame {
        switch frame {
        case .event(let event):
            return WebSocketFrame(fin: true, opcode: .text, data: event.frame)
        case .typing(let sessionID, let userID, let name, let until):
            return text(object(["type": "typing", "sessionId": sessionID, "userId": userID, "name": name, "until": ParleyJSON.format(until)]))
        case .error(let code, let message):
            return text(error(code: code, message: message))
        case .pong:
            return text(#"{"type":"pong"}"#)
        }
    }

    static func text(_ string: String) -> WebSocketFrame {
        WebSocketFrame(fin: true, opcode: .text, data: ByteBuffer(string: string))
    }

    /// A close frame: the code, and the reason cut to the 123 bytes a control frame has room for.
    static func close(code: UInt16, reason: String) -> WebSocketFrame {
        var reason = Substring(reason)
        while reason.utf8.count > 123 { reason = reason.dropLast() }
        var data = ByteBuffer()
        data.writeInteger(code)
        data.writeString(String(reason))
        return WebSocketFrame(fin: true, opcode: .connectionClose, data: data)
    }

    private static func object(_ fields: [String: String?]) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(fields)).map { String(decoding: $0, as: UTF8.self) } ?? #"{"type":"error"}"#
    }
}
