import Foundation

/// Per-brokerage limits and switches (`parley.tenants.settings`, changed with
/// `PATCH /v1/tenants/{slug}/settings`). Absent keys take the defaults below.
public struct TenantSettings: Codable, Sendable, Hashable {
    /// Largest attachment, in bytes (default 10 MiB).
    public var maxAttachmentBytes: Int = 10 * 1024 * 1024
    /// Attachments per message (default 5).
    public var maxAttachmentsPerMessage: Int = 5
    /// Hours a chat request stays pending before it expires (default 72).
    public var chatRequestTTLHours: Int = 72
    /// The agent who receives chat requests that name none.
    public var defaultAgentId: String?
    /// Origins (`https://example.com`) whose pages may call the public chat-request API.
    public var allowedOrigins: [String] = []
    /// Public submissions per client IP per hour, and per tenant per hour.
    public var chatRequestsPerIPPerHour: Int = 10
    public var chatRequestsPerHour: Int = 1000
    /// Request Chat (agent to agent) per asking agent per hour (default 20).
    public var agentChatRequestsPerHour: Int = 20
    /// Days the stream's event log keeps events for resuming (default 7). A stream resumed
    /// from an older cursor gets `resync_required`.
    public var eventRetentionDays: Int = 7
    /// Days messages are kept (nil, the default: forever). Older messages, their attachments'
    /// bytes, search terms and events are deleted in batches by the maintenance service.
    public var messageRetentionDays: Int?
    /// Bytes of attachments the brokerage may store in all (default 10 GiB): an upload that
    /// would pass it is refused (507 `storage_quota_exceeded`) before its bytes are stored.
    public var maxStorageBytes: Int = 10 * 1024 * 1024 * 1024
    /// Bytes one user may hold in uploads not yet sent in a message (default 100 MiB; unsent
    /// uploads are removed after 24 hours): 507 `upload_quota_exceeded` beyond it.
    public var maxUnsentUploadBytesPerUser: Int = 100 * 1024 * 1024

    public init() {}

    public enum CodingKeys: String, CodingKey, CaseIterable {
        case maxAttachmentBytes, maxAttachmentsPerMessage, chatRequestTTLHours, defaultAgentId, allowedOrigins
        case chatRequestsPerIPPerHour, chatRequestsPerHour, agentChatRequestsPerHour, eventRetentionDays, messageRetentionDays
        case maxStorageBytes, maxUnsentUploadBytesPerUser
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = TenantSettings()
        maxAttachmentBytes = try c.decodeIfPresent(Int.self, forKey: .maxAttachmentBytes) ?? d.maxAttachmentBytes
        maxAttachmentsPerMessage = try c.decodeIfPresent(Int.self, forKey: .maxAttachmentsPerMessage) ?? d.maxAttachmentsPerMessage
        chatRequestTTLHours = try c.decodeIfPresent(Int.self, forKey: .chatRequestTTLHours) ?? d.chatRequestTTLHours
        defaultAgentId = try c.decodeIfPresent(String.self, forKey: .defaultAgentId)
        allowedOrigins = try c.decodeIfPresent([String].self, forKey: .allowedOrigins) ?? d.allowedOrigins
        chatRequestsPerIPPerHour = try c.decodeIfPresent(Int.self, forKey: .chatRequestsPerIPPerHour) ?? d.chatRequestsPerIPPerHour
        chatRequestsPerHour = try c.decodeIfPresent(Int.self, forKey: .chatRequestsPerHour) ?? d.chatRequestsPerHour
        agentChatRequestsPerHour = try c.decodeIfPresent(Int.self, forKey: .agentChatRequestsPerHour) ?? d.agentChatRequestsPerHour
        eventRetentionDays = try c.decodeIfPresent(Int.self, forKey: .eventRetentionDays) ?? d.eventRetentionDays
        messageRetentionDays = try c.decodeIfPresent(Int.self, forKey: .messageRetentionDays)
        maxStorageBytes = try c.decodeIfPresent(Int.self, forKey: .maxStorageBytes) ?? d.maxStorageBytes
        maxUnsentUploadBytesPerUser = try c.decodeIfPresent(Int.self, forKey: .maxUnsentUploadBytesPerUser) ?? d.maxUnsentUploadBytesPerUser
    }

    /// Every out-of-range value, listed.
    public func validate() throws {
        var v = Validator()
        if !(1...(100 * 1024 * 1024)).contains(maxAttachmentBytes) { v.add("maxAttachmentBytes", "out_of_range", "1 byte to 100 MiB") }
        if !(1...20).contains(maxAttachmentsPerMessage) { v.add("maxAttachmentsPerMessage", "out_of_range", "1 to 20") }
        if !(1...8760).contains(chatRequestTTLHours) { v.add("chatRequestTTLHours", "out_of_range", "1 to 8760 hours") }
        if let agent = defaultAgentId, agent.isEmpty || agent.codePoints > 200 { v.add("defaultAgentId", "invalid_value", "1 to 200 characters") }
        if allowedOrigins.count > 50 { v.add("allowedOrigins", "too_many", "at most 50 origins") }
        for (index, origin) in allowedOrigins.enumerated() where !Self.isOrigin(origin) {
            v.add("allowedOrigins.\(index)", "invalid_format", "an origin is scheme://host[:port], e.g. https://example.com")
        }
        if !(1...100_000).contains(chatRequestsPerIPPerHour) { v.add("chatRequestsPerIPPerHour", "out_of_range", "1 to 100000") }
        if !(1...10_000_000).contains(chatRequestsPerHour) { v.add("chatRequestsPerHour", "out_of_range", "1 to 10000000") }
        if !(1...10_000).contains(agentChatRequestsPerHour) { v.add("agentChatRequestsPerHour", "out_of_range", "1 to 10000") }
        if !(1...3650).contains(eventRetentionDays) { v.add("eventRetentionDays", "out_of_range", "1 to 3650 days") }
        if let days = messageRetentionDays, !(1...36500).contains(days) {
            v.add("messageRetentionDays", "out_of_range", "1 to 36500 days, or null for no limit")
        }
        if !((1 << 20)...(1 << 50)).contains(maxStorageBytes) { v.add("maxStorageBytes", "out_of_range", "1 MiB to 1 PiB") }
        if !((1 << 20)...(1 << 40)).contains(maxUnsentUploadBytesPerUser) {
            v.add("maxUnsentUploadBytesPerUser", "out_of_range", "1 MiB to 1 TiB")
        }
        try v.check()
    }

    /// `http(s)://host[:port]` with nothing after the authority, lower-case.
    public static func isOrigin(_ text: String) -> Bool {
        guard text.codePoints <= 255, text == text.lowercased(), let url = URL(string: text),
            let scheme = url.scheme, ["http", "https"].contains(scheme), let host = url.host, !host.isEmpty
        else { return false }
        let port = url.port.map { ":\($0)" } ?? ""
        return "\(scheme)://\(host)\(port)" == text
    }
}
