import Domain
import Logging
import NIOCore
import NIOWebSocket

/// One live stream, on its channel's event loop, after the WebSocket upgrade (NIO's frame
/// decoder and encoder sit before it). No Swift task lives as long as the stream: opening it
/// (token, subscription) and a `typing` frame's check run in short tasks, and everything else —
/// frames out, pings, the close handshake — happens here, on the loop
/// (docs/decisions/0023-streams-on-the-event-loop.md). The protocol is docs/STREAM.md.
final class StreamHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    /// The largest message a client may send (also the largest frame the decoder accepts).
    static let maxMessageSize = 16 * 1024
    /// Without a token in the request, the first frame must bring one within this.
    static let authTimeout: TimeAmount = .seconds(10)
    /// A ping every this often; a client that has not answered the last one by the next is gone.
    static let pingInterval: TimeAmount = .seconds(30)
    /// After our close frame, the client's is awaited this long before the socket is closed.
    static let closeTimeout: TimeAmount = .seconds(5)
    /// Client messages kept while an earlier one is being handled (reading is paused meanwhile).
    static let maxPendingMessages = 64

    private enum State {
        case awaitingAuth
        case opening
        case open
        /// A close frame was sent; waiting for the client's (or for the socket to close).
        case closing
        case closed
    }

    private let service: StreamService
    private let outbox: LoopOutbox
    private let token: String?
    private let after: Result<Int64?, StreamService.Refusal>
    private let logger: Logger
    private var state = State.awaitingAuth
    /// From `opened` until the socket closes (also while closing: it is released then).
    private var subscription: Subscription?
    private var caller: Caller?
    private var context: ChannelHandlerContext?
    /// The frame encoder's context: an event's frame, already encoded (`StoredEvent.wire`), is
    /// written from there, past the encoder, so that no socket encodes it again.
    private var encoded: ChannelHandlerContext?
    /// Items from the outbox that came before `hello` was written.
    private var early: [LoopOutbox.Item] = []
    /// Frames taken from the outbox in this hop, written at `flushBatch`.
    private var batch: [StreamFrame] = []
    /// An opening or a `typing` check runs: reading is paused and messages wait here.
    private var busy = false
    private var waiting: [String?] = []
    /// A message arriving in fragments, and whether it is text.
    private var fragments: ByteBuffer?
    private var fragmentsAreText = false
    /// The auth timeout, the next ping or the close timeout (one at a time).
    private var timer: Scheduled<Void>?
    private var pingUnanswered = false
    /// The client's close frame came: nothing it sends after counts.
    private var closeReceived = false

    init(service: StreamService, outbox: LoopOutbox, token: String?, after: Result<Int64?, StreamService.Refusal>, logger: Logger) {
        self.service = service
        self.outbox = outbox
        self.token = token
        self.after = after
        self.logger = logger
    }

    private var bound: NIOLoopBound<StreamHandler> {
        NIOLoopBound(self, eventLoop: outbox.loop)
    }

    // MARK: - Opening

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        encoded = try? context.pipeline.syncOperations.context(handlerType: WebSocketFrameEncoder.self)
        switch after {
        case .failure(let refusal):
            refuse(refusal)
        case .success(let after):
            if let token {
                open(token: token, after: after)
            } else {
                let bound = self.bound
                timer = context.eventLoop.assumeIsolated().scheduleTask(in: Self.authTimeout) {
                    bound.value.refuse(.init(code: "auth_timeout", message: "send an auth frame first", closeCode: StreamService.CloseCode.authTimeout))
                }
            }
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        ended()
        self.context = nil
        encoded = nil
    }

    /// Verifies the token and subscribes in a short task; the stream is live when `opened` runs.
    private func open(token: String, after: Int64?) {
        timer?.cancel()
        state = .opening
        pause()
        let (service, bound, loop) = (self.service, self.bound, outbox.loop)
        let sink = StreamConnection(handler: bound, outbox: outbox)
        Task {
            let result: Result<StreamService.Opened, StreamService.Refusal>
            do throws(StreamService.Refusal) {
                result = .success(try await service.open(token: token, after: after, sink: sink))
            } catch {
                result = .failure(error)
            }
            loop.execute { bound.value.opened(result) }
        }
    }

    private func opened(_ result: Result<StreamService.Opened, StreamService.Refusal>) {
        switch result {
        case .failure(let refusal):
            guard case .opening = state else { return }
            refuse(refusal)
        case .success(let opened):
            guard case .opening = state, let context else {
                // The client went away while the stream was being opened.
                service.release(opened.subscription)
                return
            }
            state = .open
            (subscription, caller) = (opened.subscription, opened.caller)
            context.write(wrapOutboundOut(Frames.text(Frames.hello(cursor: opened.cursor, caller: opened.caller))), promise: nil)
            let early = self.early
            self.early = []
            for item in early { _ = take(item) }
            if batch.isEmpty { context.flush() } else { flushBatch() }
            // An early item may have ended the stream (its close timer is running then).
            guard case .open = state else { return }
            schedulePing()
            resume()
        }
    }

    // MARK: - Frames out

    /// An item from the outbox (on the loop). Frames are collected for `flushBatch`; returns
    /// true when this is the first frame of the batch.
    func take(_ item: LoopOutbox.Item) -> Bool {
        switch state {
        case .awaitingAuth, .opening:
            early.append(item)
            return false
        case .closing, .closed:
            return false
        case .open:
            switch item {
            case .frame(let frame, _):
                batch.append(frame)
                return batch.count == 1
            case .end(let termination, let subscription):
                flushBatch()
                guard termination != .clientClosed else { return false }
                let reason = subscription.closeReason(termination)
                logger.info("closing stream", metadata: ["code": "\(termination.closeCode)", "reason": "\(reason)"])
                close(code: termination.closeCode, reason: reason)
                return false
            }
        }
    }

    /// Writes the batch and flushes; when it has reached the socket, the subscription's
    /// outbox has that much more room.
    func flushBatch() {
        guard !batch.isEmpty, let context, let subscription, case .open = state else {
            batch.removeAll()
            return
        }
        let count = batch.count
        let written = context.eventLoop.makePromise(of: Void.self)
        for (index, frame) in batch.enumerated() {
            let promise = index == count - 1 ? written : nil
            if case .event(let event) = frame, let encoded {
                encoded.write(NIOAny(event.wire), promise: promise)
            } else {
                context.write(wrapOutboundOut(Frames.outbound(frame)), promise: promise)
            }
        }
        context.flush()
        written.futureResult.whenSuccess { subscription.didWrite(count: count) }
        batch.removeAll(keepingCapacity: batch.capacity <= 16)
    }

    // MARK: - Frames in

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        guard !closeReceived else { return }
        switch frame.opcode {
        case .connectionClose:
            receivedClose(frame)
        case .ping:
            guard frame.fin, frame.length <= 125 else { return protocolError() }
            guard !isClosing else { return }
            context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .pong, data: frame.unmaskedData)), promise: nil)
        case .pong:
            pingUnanswered = false
        case .text, .binary:
            guard fragments == nil else { return protocolError() }
            fragmentsAreText = frame.opcode == .text
            fragments = frame.unmaskedData
            if frame.fin { receivedMessage() }
        case .continuation:
            guard var message = fragments else { return protocolError() }
            var data = frame.unmaskedData
            guard message.readableBytes + data.readableBytes <= Self.maxMessageSize else {
                fragments = nil
                return close(code: WebSocketErrorCode.messageTooLarge.code, reason: "message too large")
            }
            message.writeBuffer(&data)
            fragments = message
            if frame.fin { receivedMessage() }
        default:
            return protocolError()
        }
    }

    private func receivedMessage() {
        guard let message = fragments else { return }
        fragments = nil
        let text = fragmentsAreText ? String(buffer: message) : nil
        switch state {
        case .awaitingAuth:
            guard let text, let frame = ClientFrame.decode(text), frame.type == "auth", let token = frame.token else {
                return refuse(.init(code: "auth_required", message: #"the first frame must be {"type":"auth","token":…}"#, closeCode: StreamService.CloseCode.unauthorized))
            }
            guard case .success(let after) = after else { return }
            open(token: token, after: after)
        case .opening, .open:
            if busy {
                if waiting.count < Self.maxPendingMessages { waiting.append(text) }
            } else {
                handle(text)
            }
        case .closing, .closed:
            break
        }
    }

    /// A client message on an open stream: `ping`, `typing` (docs/STREAM.md).
    private func handle(_ text: String?) {
        guard case .open = state, let subscription, let caller else { return }
        guard let text, let frame = ClientFrame.decode(text) else {
            return subscription.push(.error(code: "invalid_frame", message: "frames are JSON objects with a type"))
        }
        switch frame.type {
        case "ping":
            subscription.push(.pong)
        case "typing":
            guard let sessionID = frame.sessionId else {
                return subscription.push(.error(code: "invalid_frame", message: "typing needs sessionId"))
            }
            // Checked in a short task; reading waits for it, as one reader would.
            pause()
            let (typing, bound, loop) = (service.typing, self.bound, outbox.loop)
            Task {
                do {
                    _ = try await typing.typing(caller, sessionID: sessionID)
                } catch {
                    // The code a POST /v1/sessions/{id}/typing would get: session_not_found, or
                    // database_unavailable (not "no such session" for a database that is away).
                    let problem = ProblemMapping.problem(for: error)
                    subscription.push(.error(code: problem.code, message: problem.detail ?? problem.title))
                }
                loop.execute { bound.value.resume() }
            }
        case "auth":
            subscription.push(.error(code: "already_authenticated", message: "this stream is authenticated"))
        default:
            subscription.push(.error(code: "unknown_frame", message: "unknown frame type"))
        }
    }

    /// Stops reading from the socket while a task handles a message.
    private func pause() {
        busy = true
        updateReading()
    }

    /// Handles the messages that waited, then reads again.
    private func resume() {
        busy = false
        while !busy, !waiting.isEmpty {
            handle(waiting.removeFirst())
        }
        guard !busy else { return }
        updateReading()
    }

    /// Reads from the socket unless a message is being handled or what was written to it has
    /// backed up (the channel is not writable: the client does not read). A client's ping is
    /// answered with a pong written straight to the socket, outside the subscription's bounded
    /// outbox: a client that pings and never reads would otherwise queue pongs in the server's
    /// memory without end. Not reading leaves its pings in the kernel's buffers, and its stream
    /// ends when our own ping goes unanswered.
    private func updateReading() {
        guard let context else { return }
        context.channel.setOption(ChannelOptions.autoRead, value: !busy && context.channel.isWritable).whenFailure { _ in }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        updateReading()
        context.fireChannelWritabilityChanged()
    }

    // MARK: - Closing

    /// An `error` frame, then the close.
    private func refuse(_ refusal: StreamService.Refusal) {
        guard let context, !isClosing else { return }
        context.write(wrapOutboundOut(Frames.text(Frames.error(code: refusal.code, message: refusal.message))), promise: nil)
        close(code: refusal.closeCode, reason: refusal.code)
    }

    private var isClosing: Bool {
        switch state {
        case .closing, .closed: true
        default: false
        }
    }

    /// Enters `.closing` (once): the context to send the close frame on, or nil if the stream
    /// is already closing or gone.
    private func startClosing() -> ChannelHandlerContext? {
        guard let context, !isClosing else { return nil }
        state = .closing
        timer?.cancel()
        // Read again if an opening or a check had paused reading: the client's close frame,
        // answering ours, is what lets the socket close now rather than at the close timeout.
        busy = false
        waiting = []
        updateReading()
        return context
    }

    /// Sends our close frame and waits (briefly) for the client's.
    private func close(code: UInt16, reason: String) {
        guard let context = startClosing() else { return }
        context.writeAndFlush(wrapOutboundOut(Frames.close(code: code, reason: reason)), promise: nil)
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: Self.closeTimeout) { [weak self] in
            self?.context?.close(promise: nil)
        }
    }

    private func receivedClose(_ frame: WebSocketFrame) {
        guard let context, !closeReceived else { return }
        closeReceived = true
        if case .closing = state {
            context.close(promise: nil)
            return
        }
        // The client closes: answer with its code (RFC 6455 §5.5.1), then close the socket —
        // in a later turn of the loop, so frames already on their way (a `pong` for a message
        // read just before) go out ahead of the answer.
        var data = frame.unmaskedData
        let code = data.readableBytes >= 2 ? data.readInteger(as: UInt16.self) ?? 1000 : 1000
        let bound = self.bound
        context.eventLoop.execute { bound.value.answerClose(code) }
    }

    private func answerClose(_ code: UInt16) {
        guard let context = startClosing() else { return }
        var reply = ByteBuffer()
        reply.writeInteger(code)
        context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, data: reply))).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }

    private func protocolError() {
        close(code: WebSocketErrorCode.protocolError.code, reason: "protocol error")
    }

    /// A ping every `pingInterval`; one unanswered until the next ends the stream (1001).
    private func schedulePing() {
        timer = outbox.loop.assumeIsolated().scheduleTask(in: Self.pingInterval) { [weak self] in
            guard let self, let context = self.context, case .open = self.state else { return }
            if self.pingUnanswered {
                self.close(code: WebSocketErrorCode.goingAway.code, reason: "no answer to ping")
                return
            }
            self.pingUnanswered = true
            context.writeAndFlush(self.wrapOutboundOut(WebSocketFrame(fin: true, opcode: .ping, data: ByteBuffer(string: "parley"))), promise: nil)
            self.schedulePing()
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        ended()
        context.fireChannelInactive()
    }

    /// The socket is gone: the subscription is released, and everything the handler holds.
    private func ended() {
        if let subscription { service.release(subscription) }
        subscription = nil
        caller = nil
        state = .closed
        timer?.cancel()
        timer = nil
        early = []
        batch = []
        waiting = []
    }
}

extension WebSocketErrorCode {
    /// The code as sent on the wire.
    var code: UInt16 { UInt16(webSocketErrorCode: self) }
}
