import Database
import HTTPTypes
import Domain
import Hummingbird
import Logging
import Metrics
import NIOCore
import Prometheus

/// Settings of the HTTP side (the executable reads them from flags and the environment).
public struct AppConfiguration: Sendable {
    public var host: String
    public var port: Int
    /// Guards the operator API; nil disables it.
    public var operatorKey: String?
    /// Reverse proxies in front of Parley that append to `X-Forwarded-For` (0: none, the TCP
    /// peer is the client). Used for the public API's per-IP rate limit.
    public var trustedProxyHops: Int
    /// How often an open stream re-checks its token (expiry is also checked at the moment it
    /// passes): a retired signing key or a closed visitor request ends the stream within this.
    public var streamCredentialCheck: Duration
    /// Connection cap and HTTP header/idle timeouts.
    public var connections: ConnectionLimits
    /// Where browsers reach this deployment (`https://chat.example`, lower case, no path): the web
    /// app's pages count as same-origin for the public API's CORS check. Nil: the request's Host.
    public var publicOrigin: String?

    public init(
        host: String = "127.0.0.1", port: Int = 8080, operatorKey: String? = nil, trustedProxyHops: Int = 0,
        streamCredentialCheck: Duration = .seconds(30), connections: ConnectionLimits = ConnectionLimits(),
        publicOrigin: String? = nil
    ) {
        self.publicOrigin = publicOrigin
        self.connections = connections
        self.host = host
        self.port = port
        self.operatorKey = operatorKey
        self.trustedProxyHops = trustedProxyHops
        self.streamCredentialCheck = streamCredentialCheck
    }
}

/// What the application runs on. The executable and the tests make these the same way.
public struct AppDependencies: Sendable {
    public let database: Database
    public let listener: NotificationListener
    public let tenants: TenantStore
    public let sessions: SessionStore
    public let contacts: ContactStore
    public let badges: BadgeStore
    public let notifier: Notifier
    public let dispatcher: EventDispatcher
    public let typing: TypingService
    public let channels: LiveChannels
    public let search: SearchStore
    public let attachments: AttachmentStore
    public let retention: MessageRetention
    public let maintenance: Maintenance
    public let chatRequests: ChatRequestStore
    public let users: UserDirectory
    public let directory: DirectoryStore
    public let webhooks: WebhookStore
    public let webhookDeliverer: WebhookDeliverer

    /// - Parameter outboxCapacity: frames a WebSocket may have queued before it is closed as
    ///   a slow consumer (4008).
    /// - Parameter conninfo: where the process's LISTEN connection goes (the pool's database).
    /// - Parameter channels: the NOTIFY channels; processes that deliver to each other's streams
    ///   must use the same names (the default in production).
    /// - Parameter streamLimits: caps on live streams per process and per user.
    /// - Parameter webhookPolicy: which webhook URLs brokerages may register (the operator's
    ///   allowed hosts: `PARLEY_WEBHOOK_ALLOWED_HOSTS`).
    /// - Parameter webhookDelivery: retry schedule, timeout and whether this process delivers.
    public init(
        database: Database, conninfo: String, logger: Logger, outboxCapacity: Int = 1000, channels: LiveChannels = LiveChannels(),
        streamLimits: StreamLimits = StreamLimits(), maintenanceInterval: Duration = .seconds(60),
        webhookPolicy: WebhookURLPolicy = WebhookURLPolicy(), webhookDelivery: WebhookDeliverer.Settings = .init()
    ) {
        self.database = database
        self.channels = channels
        self.listener = NotificationListener(conninfo: conninfo, channels: channels.names, logger: logger)
        self.tenants = TenantStore(database: database, logger: logger)
        self.notifier = Notifier(database: database, channels: channels, logger: logger)
        self.dispatcher = EventDispatcher(
            database: database, listener: listener, channels: channels, logger: logger, outboxCapacity: outboxCapacity,
            limits: streamLimits)
        self.sessions = SessionStore(database: database, notifier: notifier)
        self.contacts = ContactStore(database: database)
        self.badges = BadgeStore(database: database)
        self.typing = TypingService(database: database, channels: channels)
        self.search = SearchStore(database: database)
        self.attachments = AttachmentStore(database: database, blobs: PostgresBlobStore(database: database), logger: logger)
        self.retention = MessageRetention(database: database, blobs: PostgresBlobStore(database: database))
        self.chatRequests = ChatRequestStore(database: database, notifier: notifier, logger: logger)
        self.users = UserDirectory(database: database)
        self.directory = DirectoryStore(database: database)
        let deliverer = WebhookDeliverer(database: database, tenants: tenants, policy: webhookPolicy, logger: logger, settings: webhookDelivery)
        self.webhookDeliverer = deliverer
        dispatcher.observeWakes { slug in deliverer.wake(slug) }
        self.webhooks = WebhookStore(database: database, policy: webhookPolicy, onEndpointCreated: { deliverer.watch($0) })
        self.maintenance = Maintenance(tenants: tenants, logger: logger, jobs: [
            .init(name: "unused-uploads") { [attachments] tenant in _ = try await attachments.removeUnused(tenant) },
            .init(name: "expire-chat-requests") { [chatRequests] tenant in _ = try await chatRequests.expire(tenant) },
            .init(name: "event-retention") { [database] tenant in _ = try await EventLog.trim(database, tenant) },
            .init(name: "message-retention") { [retention] tenant in try await retention.trim(tenant) },
            .init(name: "webhook-delivery-log") { [webhooks] tenant in _ = try await webhooks.trimDeliveries(tenant) },
        ], interval: maintenanceInterval)
    }
}

/// Builds the whole HTTP application. Used by `parley serve` and by the end-to-end tests.
public func buildApplication(
    configuration: AppConfiguration, dependencies: AppDependencies, logger: Logger
) -> some ApplicationProtocol {
    let registry = ParleyMetrics.bootstrap()
    let verifier = TokenVerifier(tenants: dependencies.tenants, requests: dependencies.chatRequests)
    dependencies.channels.onTenantCreated { slug in
        Task { await verifier.tenantCreated(slug) }
    }
    let router = Router(context: ParleyRequestContext.self)
    router.middlewares.add(RequestIDHeaderMiddleware())
    router.middlewares.add(RequestLogMiddleware(.debug))
    router.middlewares.add(MetricsMiddleware())
    router.middlewares.add(ProblemMiddleware())
    router.middlewares.add(MethodNotAllowedMiddleware())

    SystemRoutes(database: dependencies.database, tenants: dependencies.tenants, listener: dependencies.listener, metrics: registry).register(on: router)
    WebAppRoutes(verifier: verifier).register(on: router)

    let v1 = router.group("v1")
    TenantRoutes(tenants: dependencies.tenants, verifier: verifier)
        .register(on: v1.group("tenants").add(middleware: OperatorAuthMiddleware(operatorKey: configuration.operatorKey)))
    PublicChatRequestRoutes(
        requests: dependencies.chatRequests, tenants: dependencies.tenants, verifier: verifier,
        trustedProxyHops: configuration.trustedProxyHops, publicOrigin: configuration.publicOrigin)
        .register(on: v1.group("public"))
    let directory = DirectoryRoutes(directory: dependencies.directory)
    directory.registerIntegration(on: v1.group("directory/agents").add(middleware: IntegrationAuthMiddleware(verifier: verifier)))
    WebhookRoutes(
        webhooks: dependencies.webhooks, brokerage: { _, context in try context.requireIntegration().tenant },
        collection: { _ in "/v1/webhooks/endpoints" }
    ).register(on: v1.group("webhooks/endpoints").add(middleware: IntegrationAuthMiddleware(verifier: verifier)))
    WebhookRoutes(
        webhooks: dependencies.webhooks,
        brokerage: { [tenants = dependencies.tenants] _, context in try await TenantRoutes.tenant(context, in: tenants) },
        collection: { "/v1/tenants/\($0.slug.rawValue)/webhooks/endpoints" }
    ).register(on: v1.group("tenants/:slug/webhooks/endpoints").add(middleware: OperatorAuthMiddleware(operatorKey: configuration.operatorKey)))
    let authenticated = v1.group().add(middleware: UserAuthMiddleware(verifier: verifier, users: dependencies.users))
    directory.registerSearch(on: authenticated)
    MeRoutes().register(on: authenticated)
    SessionRoutes(sessions: dependencies.sessions).register(on: authenticated)
    ContactRoutes(contacts: dependencies.contacts).register(on: authenticated)
    LiveRoutes(badges: dependencies.badges, typing: dependencies.typing).register(on: authenticated)
    SearchRoutes(search: dependencies.search).register(on: authenticated)
    AttachmentRoutes(attachments: dependencies.attachments).register(on: authenticated)
    ChatRequestRoutes(requests: dependencies.chatRequests).register(on: authenticated)

    let credentialWatch = CredentialWatch(verifier: verifier, interval: configuration.streamCredentialCheck)
    dependencies.channels.onTenantChanged { slug in
        Task {
            await verifier.tenantChanged(slug)
            credentialWatch.tenantChanged(slug)
        }
    }
    let streams = StreamService(
        verifier: verifier, dispatcher: dependencies.dispatcher, typing: dependencies.typing, users: dependencies.users,
        watch: credentialWatch)

    return Application(
        router: router,
        server: .parley(
            http1: .init(idleTimeout: TimeAmount(configuration.connections.idleTimeout)), streams: streams,
            limits: configuration.connections),
        configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "parley"),
        // Shut down in reverse: server, dispatcher (closes streams), listener, pool.
        services: [
            dependencies.database, dependencies.listener, dependencies.dispatcher, dependencies.maintenance, dependencies.webhookDeliverer,
            credentialWatch,
        ],
        logger: logger)
}
