import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import NIOHTTPTypesHTTP1
import NIOWebSocket

/// Every connection of the server: `ConnectionGuard` first, then HTTP/1.1, and an upgrade of
/// `GET /v1/stream` to a WebSocket served by NIO channel handlers (`StreamHandler`), with no
/// Swift task for the stream's life (docs/decisions/0023-streams-on-the-event-loop.md).
///
/// Hummingbird runs `handle` in a task per connection: for HTTP it serves the requests until
/// the connection closes; for a stream it returns as soon as the upgrade is done, and the
/// channel lives on in its event loop.
struct StreamChannel: ServerChildChannel, HTTPChannelHandler {
    enum UpgradeResult: Sendable {
        /// `/v1/stream` upgraded: its handlers are in the pipeline, nothing left to do here.
        case stream
        case notUpgraded(NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>)
        /// An upgrade to another path (or a bad one): 400.
        case failedUpgrade(NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>)
    }

    struct Value: ServerChildChannelValue {
        let upgradeResult: EventLoopFuture<UpgradeResult>
        let channel: any Channel
    }

    let responder: HTTPChannelHandler.Responder
    let http1: HTTP1Channel.Configuration
    let streams: StreamService
    let gate: ConnectionGate
    let headerTimeout: TimeAmount

    init(responder: @escaping HTTPChannelHandler.Responder, http1: HTTP1Channel.Configuration, streams: StreamService, limits: ConnectionLimits) {
        self.responder = Self.redirectingUpgrades(responder)
        self.http1 = http1
        self.streams = streams
        self.gate = ConnectionGate(limit: limits.maxConnections)
        self.headerTimeout = TimeAmount(limits.headerTimeout)
    }

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(ConnectionGuard(gate: gate, headerTimeout: headerTimeout))
            let upgradeAttempted = NIOLoopBoundBox(false, eventLoop: channel.eventLoop)
            let upgrader = NIOTypedWebSocketServerUpgrader<UpgradeResult>(
                maxFrameSize: StreamHandler.maxMessageSize,
                shouldUpgrade: { channel, head in
                    upgradeAttempted.value = true
                    let path = head.uri.split(separator: "?", maxSplits: 1).first ?? ""
                    return channel.eventLoop.makeSucceededFuture(path == "/v1/stream" ? HTTPHeaders() : nil)
                },
                upgradePipelineHandler: { channel, head in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(streams.handler(for: head, channel: channel, logger: logger))
                        return UpgradeResult.stream
                    }
                })
            let notUpgrading = NIOTypedHTTPServerUpgradeConfiguration(
                upgraders: [upgrader],
                notUpgradingCompletionHandler: { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(HTTP1ToHTTPServerCodec(secure: false))
                        try channel.pipeline.syncOperations.addHandlers(http1.additionalChannelHandlers())
                        try channel.pipeline.syncOperations.addHandler(
                            HTTPConnectionStateHandler(idleTimeout: http1.idleTimeout.map { .init($0) }, logger: logger))
                        let asyncChannel = try NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>(
                            wrappingChannelSynchronously: channel, configuration: .init(isOutboundHalfClosureEnabled: true))
                        return upgradeAttempted.value ? .failedUpgrade(asyncChannel) : .notUpgraded(asyncChannel)
                    }
                })
            var configuration = NIOUpgradableHTTPServerPipelineConfiguration<UpgradeResult>(upgradeConfiguration: notUpgrading)
            configuration.enablePipelining = false  // HTTP is pipelined by NIOAsyncChannel
            configuration.enableErrorHandling = false  // Hummingbird answers parse errors
            configuration.enableResponseHeaderValidation = false  // HTTPTypes validates
            configuration.decoderConfiguration.maxHeaderFieldSize = http1.httpDecoder.maxHeaderFieldSize
            configuration.decoderConfiguration.maxHeaderListSize = http1.httpDecoder.maxHeaderListSize
            configuration.decoderConfiguration.maxHeaderFieldCount = http1.httpDecoder.maxHeaderFieldCount
            let result = try channel.pipeline.syncOperations.configureUpgradableHTTPServerPipeline(configuration: configuration)
            return Value(upgradeResult: result, channel: channel)
        }
    }

    func handle(value: Value, logger: Logger) async {
        do {
            switch try await value.upgradeResult.get() {
            case .stream:
                return
            case .notUpgraded(let http1):
                await handleHTTP(asyncChannel: http1, logger: logger)
            case .failedUpgrade(let http1):
                try await http1.executeThenClose { _, outbound in
                    let head = HTTPResponse(status: .badRequest, headerFields: [.connection: "close", .contentLength: "0"])
                    try await outbound.write(contentsOf: [.head(head), .end(nil)])
                }
            }
        } catch let error as ChannelError where error == .inputClosed {
            logger.trace("connection closed before its first request")
        } catch {
            logger.debug("connection ended", metadata: ["error": "\(error)"])
        }
    }

    /// NIO upgrades only a connection's first request: an upgrade later on a kept-alive
    /// connection is redirected to the same URI with `Connection: close`, so the client opens
    /// a new connection for it (as Hummingbird's WebSocket channel does).
    static func redirectingUpgrades(_ responder: @escaping HTTPChannelHandler.Responder) -> HTTPChannelHandler.Responder {
        struct RedirectClose: Error {}
        return { request, responseWriter, channel in
            guard request.headers[.upgrade]?.lowercased() == "websocket" else {
                try await responder(request, responseWriter, channel)
                return
            }
            var location = request.uri.path
            if let query = request.uri.query { location += "?\(query)" }
            try await responseWriter.writeResponse(HTTPResponse(status: .temporaryRedirect, headerFields: [.connection: "close", .location: location]))
            throw RedirectClose()
        }
    }
}

extension HTTPServerBuilder {
    /// HTTP/1.1 with `/v1/stream` upgrades, behind a `ConnectionGuard` (`StreamChannel`).
    static func parley(http1: HTTP1Channel.Configuration, streams: StreamService, limits: ConnectionLimits) -> HTTPServerBuilder {
        .init { responder in StreamChannel(responder: responder, http1: http1, streams: streams, limits: limits) }
    }
}
