import Crypto
import Database
import Foundation
import Logging

/// Uploads, their use in messages, downloads, and removal of the unused ones.
public struct AttachmentStore: Sendable {
    public let database: Database
    public let blobs: any BlobStore
    let logger: Logger

    public init(database: Database, blobs: any BlobStore, logger: Logger) {
        self.database = database
        self.blobs = blobs
        self.logger = logger
    }

    /// Starts one file of an upload: the caller must be a member of the session, and the
    /// session not closed. The bytes follow through `AttachmentUpload.append`.
    public func begin(_ caller: Caller, sessionID: String, fileName: String) async throws -> AttachmentUpload {
        guard let session = UUID(uuidString: sessionID) else { throw SessionStore.notFound }
        let name = SafeFileName.sanitize(fileName)
        let id = try await database.withTenant(caller.tenant.scope) { tx -> UUID in
            guard let row = try await tx.query("""
                SELECT s.status FROM sessions s JOIN session_members m ON m.session_id = s.id AND m.user_id = $2
                WHERE s.id = $1
                """, [session, caller.userID]).first
            else { throw SessionStore.notFound }
            if try row.decode(String.self, "status") == "closed" {
                throw DomainError.conflict(code: "session_closed", message: "the session is closed; reopen it to upload")
            }
            return try await tx.query("""
                INSERT INTO attachments (session_id, uploader_id, file_name) VALUES ($1, $2, $3) RETURNING id
                """, [session, caller.userID, name]).rows[0].decode(UUID.self, "id")
        }
        return AttachmentUpload(store: self, caller: caller, id: id, fileName: name, limit: caller.tenant.settings.maxAttachmentBytes)
    }

    /// Removes uploads that failed or were refused (rows and bytes). Never throws: what it
    /// cannot remove now, the 24-hour sweep removes later.
    public func discard(_ caller: Caller, ids: [UUID]) async {
        guard !ids.isEmpty else { return }
        do {
            try await blobs.delete(caller.tenant.scope, ids: ids)
            _ = try await database.tenantPipelined(
                caller.tenant.scope, "DELETE FROM attachments WHERE id = ANY ($1::uuid[]) AND message_id IS NULL", [SQLArray.uuids(ids)])
        } catch {
            logger.warning("could not discard refused upload", metadata: ["error": "\(error)"])
        }
    }

    /// Removes one of the caller's own unsent uploads (rows and bytes; its room in the quotas
    /// at once). Another user's upload, one sent in a message, or no such id: 404, alike. A send
    /// that takes it at the same time either comes first (then it is sent: 404 here) or finds
    /// it gone (409 `attachment_unavailable`): the row is marked under its lock, as the sweep does.
    public func remove(_ caller: Caller, id: String) async throws {
        let notFound = DomainError.notFound(code: "attachment_not_found", message: "no such unsent upload of yours")
        guard let uuid = UUID(uuidString: id) else { throw notFound }
        let marked = try await database.withTenant(caller.tenant.scope) { tx in
            try await tx.query("""
                UPDATE attachments SET state = 'deleting'
                WHERE id = $1 AND uploader_id = $2 AND message_id IS NULL AND state = 'ready'
                RETURNING id
                """, [uuid, caller.userID]).first != nil
        }
        guard marked else { throw notFound }
        try await blobs.delete(caller.tenant.scope, ids: [uuid])
        _ = try await database.tenantPipelined(
            caller.tenant.scope, "DELETE FROM attachments WHERE id = $1 AND state = 'deleting'", [uuid])
    }

    /// A stored file as a download needs it.
    public struct Stored: Sendable {
        public let id: UUID
        public let fileName: String
        public let mediaType: String
        public let size: Int64
        public let sha256: String
    }

    /// An attachment the caller may download: in a session they are a member of, and either
    /// sent in a message or their own upload. Anything else is 404, exactly like a missing id.
    public func find(_ caller: Caller, id: String) async throws -> Stored {
        let notFound = DomainError.notFound(code: "attachment_not_found", message: "no such attachment")
        guard let uuid = UUID(uuidString: id) else { throw notFound }
        return try await database.withTenant(caller.tenant.scope) { tx in
            guard let row = try await tx.query("""
                SELECT a.id, a.file_name, a.media_type, a.size, a.sha256 FROM attachments a
                JOIN session_members m ON m.session_id = a.session_id AND m.user_id = $2
                WHERE a.id = $1 AND a.state = 'ready' AND (a.message_id IS NOT NULL OR a.uploader_id = $2)
                """, [uuid, caller.userID]).first
            else { throw notFound }
            return Stored(
                id: try row.decode(UUID.self, "id"), fileName: try row.decode(String.self, "file_name"),
                mediaType: try row.decode(String.self, "media_type"), size: try row.decode(Int64.self, "size"),
                sha256: try row.decode(String.self, "sha256"))
        }
    }

    /// Streams `range` of a stored file to `body`.
    public func read(_ caller: Caller, _ stored: Stored, range: Range<Int64>, _ body: ([UInt8]) async throws -> Void) async throws {
        try await blobs.read(caller.tenant.scope, id: stored.id, range: range, body)
    }

    /// Removes uploads never used in a message within `age` (24 hours by default), in one
    /// process at a time per tenant (advisory lock). Returns how many were removed.
    ///
    /// Three steps, each safe to repeat: mark the rows 'deleting' (a send checks for 'ready',
    /// so none can use them from here on), delete their bytes, delete the rows. After a crash
    /// the next sweep picks up the 'deleting' rows again; bytes never outlive their row.
    public func removeUnused(_ tenant: Tenant, olderThan age: Duration = .seconds(24 * 3600)) async throws -> Int {
        let seconds = Double(age.components.seconds)
        let ids = try await database.withTenant(tenant.scope) { tx -> [UUID] in
            guard try await tx.query("SELECT pg_try_advisory_xact_lock(hashtext('parley.attachments'), hashtext($1)) AS ok",
                                     [tenant.slug.rawValue]).rows[0].decode(Bool.self, "ok")
            else { return [] }
            return try await tx.query("""
                UPDATE attachments SET state = 'deleting' WHERE id IN (
                    SELECT id FROM attachments
                    WHERE message_id IS NULL AND (state = 'deleting' OR created_at < now() - make_interval(secs => $1))
                    ORDER BY created_at LIMIT 1000 FOR UPDATE SKIP LOCKED)
                RETURNING id
                """, [seconds]).rows.map { try $0.decode(UUID.self, "id") }
        }
        guard !ids.isEmpty else { return 0 }
        try await blobs.delete(tenant.scope, ids: ids)
        _ = try await database.tenantPipelined(
            tenant.scope, "DELETE FROM attachments WHERE id = ANY ($1::uuid[]) AND state = 'deleting'", [SQLArray.uuids(ids)])
        logger.info("removed unused uploads", metadata: ["tenant": "\(tenant.slug)", "count": "\(ids.count)"])
        return ids.count
    }

    /// Reserves `bytes` more for `upload` before they are stored: 507 `upload_quota_exceeded`
    /// past the uploader's unsent-upload quota, 507 `storage_quota_exceeded` past the
    /// brokerage's storage quota (docs/decisions/0017-storage-quotas.md).
    func reserve(_ upload: AttachmentUpload, bytes: Int) async throws {
        let settings = upload.caller.tenant.settings
        let outcome = try await database.tenantPipelined(
            upload.caller.tenant.scope, "SELECT reserve_attachment_bytes($1, $2, $3, $4, $5) AS outcome",
            [upload.id, upload.caller.userID, Int64(bytes), Int64(settings.maxUnsentUploadBytesPerUser), Int64(settings.maxStorageBytes)]
        ).rows.first?.decode(String.self, "outcome")
        switch outcome {
        case "ok": return
        case "user":
            throw DomainError.quotaExceeded(
                code: "upload_quota_exceeded",
                message: "your unsent uploads may hold at most \(settings.maxUnsentUploadBytesPerUser) bytes; send or wait for them to expire")
        default:
            throw DomainError.quotaExceeded(
                code: "storage_quota_exceeded", message: "the brokerage's attachment storage (\(settings.maxStorageBytes) bytes) is full")
        }
    }

    /// Marks a fully stored, type-checked upload ready.
    func ready(_ upload: AttachmentUpload, _ type: SniffResult, size: Int64, sha256: String) async throws -> Attachment {
        _ = try await database.tenantPipelined(upload.caller.tenant.scope, """
            UPDATE attachments SET state = 'ready', media_type = $2, size = $3, sha256 = $4, width = $5, height = $6
            WHERE id = $1
            """, [upload.id, type.mediaType, size, sha256, type.width, type.height])
        return Attachment(
            id: upload.id.uuidString.lowercased(), fileName: upload.fileName, mediaType: type.mediaType, size: size,
            sha256: sha256, width: type.width, height: type.height)
    }
}
