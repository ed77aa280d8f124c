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
                id: "id-\(index)", kind: index % 2 == 0 ? .client : .agent, agentToAgent: index % 2 == 1, status: .archived, closed: index % 3 == 0,
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

    @Test("messages written by hand (history pages, a send's answer) are byte for byte what the JSON encoder writes")
    func messagesWrittenLikeEncoded() throws {
        let encoder = ParleyJSON.encoder()
        let prices: [Double?] = [nil, 450_000, 450_000.5, 0.1, 100_000_000_000, 1e-7]
        var checked = 0
        for (index, text) in Self.awkward.enumerated() {
            // As message_json() stores it; the listing and attachments vary with the index.
            var object: [String: Any] = [
                "id": "m-\(index)", "sessionId": "s-\(text)", "seq": index * 1_000_000_007, "text": text, "html": text,
                "sender": ["userId": "agent-\(text)", "name": text, "role": "agent"], "clientMessageId": "key-\(text)",
                "createdAt": "2026-12-03T18:0\(index % 10):00.12\(index % 10)Z",
                "attachments": (0..<(index % 3)).map { number in
                    ["id": "a-\(number)", "fileName": text, "mediaType": "image/png", "size": number * 1000, "sha256": "ab\(number)",
                     "url": "/v1/attachments/a-\(number)"].merging(number == 1 ? ["width": 640, "height": 480] : [:]) { $1 }
                },
            ]
            if let price = prices[index % prices.count] {
                object["listing"] = ["ListingKey": text, "address": "1 \(text) St", "listPrice": price, "url": "https://example.com/\(index)"]
            } else if index % 4 == 0 {
                object["listing"] = ["ListingId": "L-\(index)"]
            }
            let stored = try ParleyJSON.sharedDecoder.decode(Message.self, from: try JSONSerialization.data(withJSONObject: object))
            // The sender's view (✓ or ✓✓, readers), another member's, and the stored one.
            let members: [String: Int64] = ["agent-\(text)": 0, "client-1": Int64(index % 2 == 0 ? Int64.max : 0)]
            for message in [stored, stored.viewed(by: "agent-\(text)", members: members), stored.viewed(by: "client-1", members: members)] {
                var json = JSONWriter()
                message.write(to: &json)
                #expect(String(decoding: json.bytes, as: UTF8.self) == String(decoding: try encoder.encode(message), as: UTF8.self))
                checked += 1
            }
        }
        #expect(checked == Self.awkward.count * 3)
    }
}
