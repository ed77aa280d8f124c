import Domain
import Foundation
import HummingbirdTesting
import ParleyTesting
import Testing

/// A message has one wire shape (message_json() in SQL): the `message.created` event, the send
/// response and history show the same object, differing only in the caller's own fields.
@Suite("API: one message shape for the stream and the REST API")
struct MessageShapeTests {
    /// The keys of a JSON object, or of its member `key`.
    static func keys(_ text: String, _ path: String...) throws -> Set<String> {
        var object = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        for key in path {
            if let array = object[key] as? [[String: Any]] {
                object = try #require(array.first)
            } else {
                object = try #require(object[key] as? [String: Any])
            }
        }
        return Set(object.keys)
    }

    @Test("message.created carries exactly what history shows, plus clientMessageId; the sender's response adds only delivery and readBy")
    func sameShape() async throws {
        try await TestApp.run { app, client in
            let pair = try await Pair.make(app, client)
            let attachmentID = try await AttachmentTests.uploaded(client, pair.agent, session: pair.sessionID, ("plan.png", Samples.png(width: 3, height: 2)))
            let member = try await TestStream.connect(port: try #require(client.port), token: pair.client)
            #expect(await member.next()?.type == "hello")

            let sent = try await client.json(.post, "/v1/sessions/\(pair.sessionID)/messages", token: pair.agent, body: [
                "clientMessageId": "shape-1", "text": "**Open house** at https://example.com/x <b>now</b>",
                "listing": ["ListingId": "ML81234", "address": "12 Harbor Way", "listPrice": 950_000],
                "attachmentIds": [attachmentID],
            ])
            #expect(sent.status == .created)
            let event = try #require(await member.nextEvent(["message.created"]))
            let history = try await client.json(.get, "/v1/sessions/\(pair.sessionID)/messages", token: pair.client)

            // The same fields, by name: the event adds only the sender's idempotency key.
            let eventKeys = try Self.keys(event.text, "data")
            #expect(eventKeys == (try Self.keys(history.text, "items")).union(["clientMessageId"]))
            #expect(try Self.keys(sent.text) == eventKeys.union(["delivery", "readBy"]))

            // And the same values.
            let fromEvent = try event.data(Message.self)
            #expect(fromEvent.clientMessageId == "shape-1")
            #expect(fromEvent.html.contains("<strong>Open house</strong>"))
            #expect(!fromEvent.html.contains("<b>"))
            #expect(fromEvent.attachments.map(\.id) == [attachmentID])
            #expect(fromEvent.listing?.ListingId == "ML81234")
            let seenByClient = try #require(try history.items(Message.self).first)
            #expect(fromEvent.viewed(by: "client-1", members: [:]) == seenByClient)
            let fromResponse = try sent.decode(Message.self)
            #expect(fromResponse.delivery == .sent)
            #expect(fromResponse.readBy == [])
            #expect(fromResponse.viewed(by: "client-1", members: [:]) == seenByClient)
            await member.close()
        }
    }

    @Test("a message stored before its HTML was (migration 011) is rendered when read")
    func legacyRowsRendered() async throws {
        try await TestApp.run { app, client in
            let pair = try await Pair.make(app, client)
            #expect(try await pair.send(client, "*old* message").status == .created)
            try await app.database.withTenant(pair.tenant.scope) { tx in
                try await tx.query("UPDATE messages SET html = NULL")
            }
            let history = try await client.json(.get, "/v1/sessions/\(pair.sessionID)/messages", token: pair.client)
            let html = try #require(try history.items(Message.self).first).html
            #expect(html == MessageFormatter.html("*old* message"))
            #expect(html.contains("<em>old</em>"))
        }
    }
}
