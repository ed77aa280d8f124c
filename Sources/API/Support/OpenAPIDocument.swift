enum OpenAPIDocument {
    /// openapi.yaml from the repository root, compiled in by EmbedPlugin.
    static let yaml: String = EmbeddedDocuments.files.first { $0.path == "openapi.yaml" }?.contents ?? ""
}
