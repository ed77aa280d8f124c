import Hummingbird

/// GET /v1/me: who the token says you are.
struct MeRoutes {
    struct Me: ResponseEncodable {
        let tenant: String
        let tenantName: String
        let sub: String
        let role: String
        let name: String
    }

    func register(on group: RouterGroup<ParleyRequestContext>) {
        group.get("me") { _, context in
            let caller = try context.requireCaller()
            return Me(
                tenant: caller.tenant.slug.rawValue, tenantName: caller.tenant.displayName,
                sub: caller.userID, role: caller.role.rawValue, name: caller.name)
        }
    }
}
