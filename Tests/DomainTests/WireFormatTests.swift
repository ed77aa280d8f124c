@testable import Domain
import Foundation
import NIOCore
import NIOEmbedded
import NIOWebSocket
import Testing

@Suite("Wire formats built once")
struct WireFormatTests {
    @Test("an event's frame is built once, with its position, type, session and stored payload spliced in")
    func eventFrame() throws {
        let event = StoredEvent(position: 42, type: "message.created", sessionID: "s-1", recipients: ["a", "b"], data: #"{"text":"hi \"there\""}"#)
        let text = String(buffer: event.frame)
        #expect(text == #"{"type":"event","id":"42","event":"message.created","sessionId":"s-1","data":{"text":"hi \"there\""}}"#)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        #expect((object["data"] as? [String: Any])?["text"] as? String == #"hi "there""#)
        let noSession = StoredEvent(position: 7, type: "badge.updated", sessionID: nil, recipients: ["a"], data: "{}")
        #expect(String(buffer: noSession.frame) == #"{"type":"event","id":"7","event":"badge.updated","data":{}}"#)
    }

    @Test("an event's WebSocket frame, encoded once for every socket, is what NIO's decoder reads back, in each length form",
          arguments: [(20, UInt8(79)), (300, 126), (70_000, 127)])
    func eventWireFrame(size: Int, lengthByte: UInt8) throws {
        // `data` is a JSON string of `size` bytes ("é" is two).
        let data = "\"" + String(repeating: "é", count: (size - 2) / 2) + "\""
        let event = StoredEvent(position: 9, type: "message.created", sessionID: nil, recipients: ["a"], data: data)
        let text = String(buffer: event.frame)
        #expect(text == #"{"type":"event","id":"9","event":"message.created","data":"# + data + "}")
        // 7-bit length (the frame's text is 79 bytes), 16-bit (126) or 64-bit (127).
        #expect(event.wire.getInteger(at: 1, as: UInt8.self) == lengthByte)

        let channel = EmbeddedChannel(handler: ByteToMessageHandler(WebSocketFrameDecoder(maxFrameSize: 1 << 20)))
        try channel.writeInbound(event.wire)
        let frame = try #require(try channel.readInbound(as: WebSocketFrame.self))
        #expect(frame.fin && frame.opcode == .text && frame.maskKey == nil)
        #expect(String(buffer: frame.unmaskedData) == text)
        #expect(try channel.readInbound(as: WebSocketFrame.self) == nil)
        _ = try channel.finish()
    }

    @Test("base64url round-trips every length and matches the standard alphabet with - and _, unpadded")
    func base64URL() throws {
        var generator = SystemRandomNumberGenerator()
        for length in 0..<200 {
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let encoded = Base64URL.encode(bytes)
            let reference = Data(bytes).base64EncodedString()
                .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
            #expect(encoded == reference)
            #expect(Base64URL.decode(encoded) == bytes)
        }
        #expect(Base64URL.decode("-_-_") == [0xfb, 0xff, 0xbf])
        #expect(Base64URL.decode("not base64!") == nil)
        #expect(Base64URL.decode("A") == nil)
    }

    /// Strings that need escaping, or that an escaper might touch and must not.
    static let awkward: [String] = [
        "", "plain", "Maria \"Mia\" López", "back\\slash/and/slashes", "emoji 🏠 and ZWJ 👩‍👩‍👧", "e\u{301} combining",
        "line\u{2028}separator\u{2029}", "del \u{7F}", String((0..<32).map { Character(UnicodeScalar(UInt8($0))) }), "<mark>&amp;</mark>",
    ]

    @Test("sessions and search results written by hand are byte for byte what the JSON encoder writes")
    func writtenLikeEncoded() throws {
        let date = Date(timeIntervalSince1970: 1_796_000_000.123)
        var sessions: [Session] = []
        for (index, text) in Self.awkward.enumerated() {
            let member = Session.Member(userId: "u-\(text)", name: text, role: "client", lastReadSeq: Int64(index), brokerage: index % 2 == 0 ? nil : text)
            sessions.append(Session(
                id: "id-\(index)", kind: index % 2 == 0 ? .client : .agent, agentToAgent: index % 2 == 1, status: .archived,
                members: index == 0 ? [] : [member, member], title: text, contactId: index % 3 == 0 ? nil : text,
                lastMessage: index % 2 == 0 ? nil : Session.LastMessage(seq: Int64.max, preview: text, senderId: text, createdAt: date),
                lastSeq: Int64(index) * 1_000_000_007, lastReadSeq: -1, unreadCount: 0, lastActivityAt: date, createdAt: Date(timeIntervalSince1970: 0)))
        }
        let results = sessions.enumerated().map { index, session in
            SearchStore.Result(
                session: session, matchedBy: index % 2 == 0 ? ["participant", "content"] : [], matchCount: Int64(index),
                snippets: Self.awkward.map { SearchStore.Snippet(messageId: $0, seq: 7, html: $0, createdAt: date) })
        }
        let encoder = ParleyJSON.encoder()
        for session in sessions {
            var json = JSONWriter()
            session.write(to: &json)
            #expect(String(decoding: json.bytes, as: UTF8.self) == String(decoding: try encoder.encode(session), as: UTF8.self))
        }
        for result in results {
            var json = JSONWriter()
            result.write(to: &json)
            #expect(String(decoding: json.bytes, as: UTF8.self) == String(decoding: try encoder.encode(result), as: UTF8.self))
        }
    }
}
