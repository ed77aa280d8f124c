import Logging

/// swift-log's `StreamLogHandler` with its metadata formatted when a line is written, not when
/// it is set. `StreamLogHandler` formats all of a logger's metadata (sorted, as text) again at
/// every change, and each request changes it three times (Hummingbird's request id, then the
/// tenant and user): ~4 % of the server's CPU for a token check, for lines that at the default
/// level are never written. Here the metadata is only kept, and handed to the stream handler
/// with the line: the output is the same.
struct LazyMetadataLogHandler: LogHandler {
    /// Has no metadata of its own: it writes each line with the metadata given to it.
    private var stream: StreamLogHandler
    var metadata: Logger.Metadata = [:]

    init(label: String, level: Logger.Level) {
        stream = StreamLogHandler.standardError(label: label)
        stream.logLevel = level
    }

    var logLevel: Logger.Level {
        get { stream.logLevel }
        set { stream.logLevel = newValue }
    }

    var metadataProvider: Logger.MetadataProvider? {
        get { stream.metadataProvider }
        set { stream.metadataProvider = newValue }
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var event = event
        // The line's own metadata wins over the logger's, as in StreamLogHandler.
        if !metadata.isEmpty { event.metadata = metadata.merging(event.metadata ?? [:]) { _, line in line } }
        stream.log(event: event)
    }
}
