import Database
import Foundation

/// Where attachment bytes live. The default keeps them in the tenant's schema
/// (`PostgresBlobStore`); an S3-compatible store would implement the same three operations.
///
/// A blob is written as numbered pieces of at most `chunkSize` bytes (0, 1, 2, …, each
/// written once, in order) and read back by byte range.
public protocol BlobStore: Sendable {
    var chunkSize: Int { get }
    /// Stores piece `index` of blob `id`; durable when this returns.
    func put(_ scope: TenantScope, id: UUID, index: Int, bytes: [UInt8]) async throws
    /// Calls `body` with the bytes of `range`, in order, at most `chunkSize` at a time.
    func read(_ scope: TenantScope, id: UUID, range: Range<Int64>, _ body: ([UInt8]) async throws -> Void) async throws
    /// Removes the blobs (missing ones are ignored).
    func delete(_ scope: TenantScope, ids: [UUID]) async throws
}
