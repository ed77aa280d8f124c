import Hummingbird

/// GET /v1/me: who the token says you are, and the brokerage's limits an app shows before
/// an upload is refused.
struct MeRoutes {
    struct Me: ResponseEncodable {
        let tenant: String
        let tenantName: String
        let sub: String
        let role: String
        let name: String
        let limits: Limits
    }

    struct Limits: Encodable {
        let maxAttachmentBytes: Int
        let maxAttachmentsPerMessage: Int
    }

    func register(on group: RouterGroup<ParleyRequestContext>) {
        group.get("me") { _, context in
            let caller = try context.requireCaller()
            return Me(
                tenant: caller.tenant.slug.rawValue, tenantName: caller.tenant.displayName,
                sub: caller.userID, role: caller.role.rawValue, name: caller.name,
                limits: Limits(
                    maxAttachmentBytes: caller.tenant.settings.maxAttachmentBytes,
                    maxAttachmentsPerMessage: caller.tenant.settings.maxAttachmentsPerMessage))
        }
    }
}
