import Domain
import Foundation
import Hummingbird

/// GET /v1/badge and POST /v1/sessions/{id}/typing.
struct LiveRoutes {
    let badges: BadgeStore
    let typing: TypingService

    struct TypingResult: ResponseEncodable {
        /// False when throttled (one indicator per 2 s per user and session).
        let sent: Bool
        let until: Date?
    }

    func register(on group: RouterGroup<ParleyRequestContext>) {
        group.get("badge") { _, context in
            JSONBody(try await badges.badge(try context.requireCaller()))
        }
        group.post("sessions/:id/typing") { _, context in
            let outcome = try await typing.typing(try context.requireCaller(), sessionID: try context.parameters.require("id"))
            switch outcome {
            case .sent(let until): return TypingResult(sent: true, until: until)
            case .throttled: return TypingResult(sent: false, until: nil)
            }
        }
    }
}
