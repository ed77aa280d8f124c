/// What the content of an accepted file is.
public struct SniffResult: Sendable, Equatable {
    public let kind: AttachmentKind
    public let mediaType: String
    /// Pixel size, for images whose header gives it.
    public let width: Int?
    public let height: Int?

    public init(kind: AttachmentKind, mediaType: String? = nil, width: Int? = nil, height: Int? = nil) {
        self.kind = kind
        self.mediaType = mediaType ?? kind.mediaType
        self.width = width
        self.height = height
    }
}
