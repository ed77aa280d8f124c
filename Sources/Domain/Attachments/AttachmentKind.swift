import Foundation

/// The attachment types Parley accepts, decided by content (magic bytes), never by name alone.
public enum AttachmentKind: String, Sendable, CaseIterable {
    case jpeg, png, gif, webp, pdf, doc, docx, rtf, txt

    /// The media type the attachment is stored and served with.
    public var mediaType: String {
        switch self {
        case .jpeg: "image/jpeg"
        case .png: "image/png"
        case .gif: "image/gif"
        case .webp: "image/webp"
        case .pdf: "application/pdf"
        case .doc: "application/msword"
        case .docx: "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
        case .rtf: "application/rtf"
        case .txt: "text/plain; charset=utf-8"
        }
    }

    /// The file name extensions (lower case, no dot) that announce this kind.
    public var fileExtensions: [String] {
        switch self {
        case .jpeg: ["jpg", "jpeg"]
        default: [rawValue]
        }
    }

    /// The kind a file name extension announces (case-insensitive, an optional leading dot is
    /// ignored), or nil for an extension that is not allowed.
    public static func forExtension(_ ext: String) -> AttachmentKind? {
        var e = ext.trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
        if e.hasPrefix(".") { e.removeFirst() }
        switch e {
        case "jpg", "jpeg": return .jpeg
        case "png": return .png
        case "gif": return .gif
        case "webp": return .webp
        case "pdf": return .pdf
        case "doc": return .doc
        case "docx": return .docx
        case "rtf": return .rtf
        case "txt": return .txt
        default: return nil
        }
    }
}
