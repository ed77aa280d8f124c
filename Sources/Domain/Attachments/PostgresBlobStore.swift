import Database
import Foundation

/// Blobs as 256 KiB `bytea` rows in the tenant's `blob_chunks` table (decision 0009): one short
/// transaction per piece, so an upload never holds a transaction open while the client sends.
public struct PostgresBlobStore: BlobStore {
    public let database: Database
    public let chunkSize: Int

    public init(database: Database, chunkSize: Int = 256 * 1024) {
        self.database = database
        self.chunkSize = chunkSize
    }

    public func put(_ scope: TenantScope, id: UUID, index: Int, bytes: [UInt8]) async throws {
        _ = try await database.tenantPipelined(
            scope, "INSERT INTO blob_chunks (blob_id, n, data) VALUES ($1, $2, $3)", [id, index, bytes])
    }

    public func read(_ scope: TenantScope, id: UUID, range: Range<Int64>, _ body: ([UInt8]) async throws -> Void) async throws {
        guard !range.isEmpty else { return }
        let size = Int64(chunkSize)
        var offset = range.lowerBound
        while offset < range.upperBound {
            let index = offset / size
            let start = offset - index * size
            let length = min(size - start, range.upperBound - offset)
            let result = try await database.tenantPipelined(
                scope, "SELECT substring(data FROM $3 FOR $4) AS part FROM blob_chunks WHERE blob_id = $1 AND n = $2",
                [id, index, start + 1, length])
            guard let row = result.first else {
                throw DomainError.notFound(code: "attachment_not_found", message: "the attachment's content is missing")
            }
            let bytes = try row.decode([UInt8].self, "part")
            guard Int64(bytes.count) == length else {
                throw DomainError.notFound(code: "attachment_not_found", message: "the attachment's content is incomplete")
            }
            try await body(bytes)
            offset += length
        }
    }

    public func delete(_ scope: TenantScope, ids: [UUID]) async throws {
        guard !ids.isEmpty else { return }
        _ = try await database.tenantPipelined(scope, "DELETE FROM blob_chunks WHERE blob_id = ANY ($1::uuid[])", [SQLArray.uuids(ids)])
    }
}
