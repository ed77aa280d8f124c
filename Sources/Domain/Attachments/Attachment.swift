import Foundation

/// An uploaded file as the API shows it (in upload responses, messages and events).
public struct Attachment: Codable, Sendable, Hashable {
    public let id: String
    /// The uploader's file name, made safe (no path, control characters or quotes).
    public let fileName: String
    /// Decided from the content (magic bytes), never from the name alone.
    public let mediaType: String
    public let size: Int64
    /// Lower-case hex SHA-256 of the content; also the download's ETag.
    public let sha256: String
    public let width: Int?
    public let height: Int?
    /// Where members download it.
    public let url: String

    public init(id: String, fileName: String, mediaType: String, size: Int64, sha256: String, width: Int?, height: Int?) {
        self.id = id
        self.fileName = fileName
        self.mediaType = mediaType
        self.size = size
        self.sha256 = sha256
        self.width = width
        self.height = height
        self.url = "/v1/attachments/\(id)"
    }
}

/// The same JSON as the encoder writes (keys in sorted order), inside a message (`JSONWritable`).
extension Attachment: JSONWritable {
    public func write(to json: inout JSONWriter) {
        json.object { json in
            json.field("fileName", fileName)
            json.field("height", height)
            json.field("id", id)
            json.field("mediaType", mediaType)
            json.field("sha256", sha256)
            json.field("size", size)
            json.field("url", url)
            json.field("width", width)
        }
    }
}
