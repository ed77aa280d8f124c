/// Why a file is refused.
public enum SniffError: Error, Equatable {
    /// The (sanitized) file name has no extension or one that is not allowed; the payload is the
    /// lower-cased extension ("" when there is none).
    case unknownExtension(String)
    /// The content is none of the allowed types.
    case unsupportedContent
    /// The content is an allowed type, but not the one the file name's extension announces.
    case mismatch(expected: AttachmentKind, found: AttachmentKind?)
    /// No bytes at all.
    case empty
}
