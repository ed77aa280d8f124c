import Crypto
import Database
import Foundation
import Synchronization

/// The live-delivery wiring of one server process: the NOTIFY channel names, the process's
/// identity in wake-up payloads, and the direct wake-up of its own dispatcher.
///
/// Made once per process and handed to the `Notifier` (which announces commits), the
/// `EventDispatcher` (which reads and fans out; it registers its wake-up here) and the
/// `TypingService`. Nobody else needs to know the names or wire the two together.
public final class LiveChannels: Sendable {
    /// `NOTIFY parley, '<tenant>|<process token>'`: a tenant has new rows in `events`.
    public let events: String
    /// `NOTIFY parley_typing, '<json>'`: a typing indicator (never stored).
    public let typing: String
    /// Identifies this process in wake-ups, so its dispatcher skips the ones it already
    /// handled locally.
    public let processToken: String
    /// `NOTIFY parley_tenants, '<slug>'`: a tenant was created (by any process). One name for
    /// every deployment on the database: creations are rare.
    public static let tenantsCreated = "parley_tenants"
    /// `NOTIFY parley_tenant_changed, '<slug>'`: a tenant's row or signing keys changed (sent
    /// by a trigger, sql/control/functions/announce_tenant_change.sql).
    public static let tenantsChanged = "parley_tenant_changed"
    // Closures in `Callback`s: a bare closure in a Mutex slows down with every call (Callback).
    private let localWake = Mutex<Callback<String>?>(nil)
    private let tenantCreated = Mutex<Callback<String?>?>(nil)
    private let tenantChanged = Mutex<Callback<String?>?>(nil)

    public init(events: String = "parley", typing: String = "parley_typing", processToken: String = UUID().uuidString.lowercased()) {
        self.events = events
        self.typing = typing
        self.processToken = processToken
    }

    /// What the process's LISTEN connection listens on.
    public var names: [String] { [events, typing, Self.tenantsCreated, Self.tenantsChanged] }

    /// The tenant a wake-up names, or nil when this process sent it (its own dispatcher was
    /// already woken directly) or the payload is not one.
    func tenantToWake(_ payload: String) -> String? {
        let parts = payload.split(separator: "|", maxSplits: 1)
        if parts.count == 2, parts[1] == processToken { return nil }
        return parts.first.map(String.init)
    }

    /// The dispatcher's wake function (set once, by the dispatcher).
    func onLocalWake(_ wake: @escaping @Sendable (String) -> Void) {
        localWake.withLock { $0 = Callback(wake) }
    }

    /// Who is told of tenants created anywhere: the slug, or nil when the LISTEN connection
    /// (re)connected and creations may have been missed (set once, by the token verifier).
    public func onTenantCreated(_ handler: @escaping @Sendable (String?) -> Void) {
        tenantCreated.withLock { $0 = Callback(handler) }
    }

    func announceTenantCreated(_ slug: String?) {
        tenantCreated.withLock { $0 }?.call(slug)
    }

    /// Who is told of tenants changed anywhere: the slug, or nil when the LISTEN connection
    /// (re)connected and changes may have been missed (set once, by the token verifier).
    public func onTenantChanged(_ handler: @escaping @Sendable (String?) -> Void) {
        tenantChanged.withLock { $0 = Callback(handler) }
    }

    func announceTenantChanged(_ slug: String?) {
        tenantChanged.withLock { $0 }?.call(slug)
    }

    /// Wakes this process's dispatcher for `slug`, without a round trip.
    func wakeLocally(_ slug: String) {
        localWake.withLock { $0 }?.call(slug)
    }

    // MARK: - Sealed typing signals (decision 0029)

    private let typingKey = Mutex<SymmetricKey?>(nil)

    /// Reads the deployment's typing key (`parley.live_key`) once; later calls return at once.
    func loadTypingKey(_ database: Database) async throws {
        if typingKey.withLock({ $0 != nil }) { return }
        let bytes = try await database.withTransaction { tx in
            try await tx.query("SELECT key FROM parley.live_key").first?.decode([UInt8].self, "key")
        }
        guard let bytes, bytes.count == 32 else { throw DatabaseError.undecodable("parley.live_key holds no 32-byte key") }
        typingKey.withLock { $0 = SymmetricKey(data: bytes) }
    }

    var hasTypingKey: Bool { typingKey.withLock { $0 != nil } }

    /// A typing signal as its NOTIFY payload: AES-GCM under the deployment's key, base64.
    func seal(_ plaintext: Data) throws -> String {
        guard let key = typingKey.withLock({ $0 }) else { throw DatabaseError.undecodable("the typing key is not loaded") }
        guard let combined = try AES.GCM.seal(plaintext, using: key).combined else {
            throw DatabaseError.undecodable("AES-GCM gave no combined box")
        }
        return combined.base64EncodedString()
    }

    /// The signal of a payload `seal` made with this deployment's key; nil for anything else
    /// (a forged or garbled payload, or no key loaded yet).
    func open(_ payload: String) -> Data? {
        guard let key = typingKey.withLock({ $0 }), let combined = Data(base64Encoded: payload),
            let box = try? AES.GCM.SealedBox(combined: combined)
        else { return nil }
        return try? AES.GCM.open(box, using: key)
    }
}
