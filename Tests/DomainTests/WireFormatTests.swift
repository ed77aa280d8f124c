@testable import Domain
import Foundation
import NIOCore
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
}
