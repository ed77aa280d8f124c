import Domain
import Foundation
import HummingbirdTesting
import ParleyTesting
import Testing

/// A message has one wire shape (message_json() in SQL): the `message.created` event, the send
/// response and history show the same object, differing only in the caller's own fields.
@Suite("API: one message shape for the stream and the REST API")
struct MessageShapeTests {
    static func decode(_ object: Any) throws -> Message {
        try ParleyJSON.decoder().decode(Message.self, from: JSONSerialization.data(withJSONObject: object))
    }

    @Test("message.created carries exactly what history shows, plus clientMessageId; the sender's response adds only delivery and readBy")
    func sameShape() async throws {
        try await TestApp.run { app, client in
            let pair = try await Pair.make(app, client)
            let png = Samples.png(width: 3, height: 2)
            let uploaded = try await AttachmentTests.upload(client, pair.agent, session: pair.sessionID, [("plan.png", png)])
            let attachmentID = try #require(uploaded.items.first?["id"] as? String)
            let member = try await TestStream.connect(port: try #require(client.port), token: pair.client)
            #expect(await member.next()?["type"] as? String == "hello")

            let sent = try await client.json(.post, "/v1/sessions/\(pair.sessionID)/messages", token: pair.agent, body: [
                "clientMessageId": "shape-1", "text": "**Open house** at https://example.com/x <b>now</b>",
                "listing": ["ListingId": "ML81234", "address": "12 Harbor Way", "listPrice": 950_000],
                "attachmentIds": [attachmentID],
            ])
            #expect(sent.status == .created)
            let event = try #require(await member.nextEvent(["message.created"]))
            let eventData = try #require(event["data"] as? [String: Any])
            let history = try await client.json(.get, "/v1/sessions/\(pair.sessionID)/messages", token: pair.client)
            let seenByClient = try #require(history.items.first)

            // The same fields, by name: the event adds only the sender's idempotency key.
            #expect(Set(eventData.keys) == Set(seenByClient.keys).union(["clientMessageId"]))
            #expect(Set(sent.body.keys) == Set(eventData.keys).union(["delivery", "readBy"]))

            // And the same values.
            let fromEvent = try Self.decode(eventData)
            #expect(fromEvent.clientMessageId == "shape-1")
            #expect(fromEvent.html.contains("<strong>Open house</strong>"))
            #expect(!fromEvent.html.contains("<b>"))
            #expect(fromEvent.attachments.map(\.id) == [attachmentID])
            #expect(fromEvent.listing?.ListingId == "ML81234")
            #expect(fromEvent.viewed(by: "client-1", members: [:]) == (try Self.decode(seenByClient)))
            let fromResponse = try Self.decode(sent.body)
            #expect(fromResponse.delivery == .sent)
            #expect(fromResponse.readBy == [])
            #expect(fromResponse.viewed(by: "client-1", members: [:]) == fromEvent.viewed(by: "client-1", members: [:]))
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
            #expect(history.items.first?["html"] as? String == MessageFormatter.html("*old* message"))
            #expect(MessageFormatter.html("*old* message").contains("<em>old</em>"))
        }
    }
}
