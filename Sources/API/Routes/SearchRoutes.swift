import Domain
import Hummingbird

/// GET /v1/search: sessions of the caller matching a participant name or message content.
struct SearchRoutes {
    let search: SearchStore

    func register(on group: RouterGroup<ParleyRequestContext>) {
        group.get("search") { request, context in
            let caller = try context.requireCaller()
            let page = try await search.search(
                caller, q: request.queryString("q") ?? "",
                status: try request.queryEnum("status", as: Session.Status.self),
                kind: try request.queryEnum("kind", as: Session.Kind.self),
                after: request.queryString("after"), limit: try pageLimit(request, default: 20))
            return Page(items: page.items, nextCursor: page.next)
        }
    }
}
