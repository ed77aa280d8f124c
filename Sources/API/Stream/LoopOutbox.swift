import Domain
import NIOCore
import Synchronization

/// Frames on their way to the streams of one event loop.
///
/// The dispatcher hands a frame to each recipient's subscription from its own task; each
/// subscription hands it to its sink (`StreamConnection`), which adds it here. The first item
/// added to an empty outbox schedules one `execute` on the loop, and that one hop writes
/// everything added meanwhile to every stream of the loop and flushes each once: an event for
/// 50 sockets costs one wake-up of each event loop, not one per socket
/// (docs/decisions/0023-streams-on-the-event-loop.md).
final class LoopOutbox: Sendable {
    enum Item: Sendable {
        case frame(StreamFrame, Subscription)
        case end(StreamTermination, Subscription)
    }

    let loop: any EventLoop
    private let pending = Mutex<[(NIOLoopBound<StreamHandler>, Item)]>([])

    init(loop: any EventLoop) {
        self.loop = loop
    }

    func add(_ handler: NIOLoopBound<StreamHandler>, _ item: Item) {
        let first = pending.withLock { pending in
            pending.append((handler, item))
            return pending.count == 1
        }
        if first { loop.execute { self.drain() } }
    }

    /// On the loop: every item in order, then one flush per stream that got frames.
    private func drain() {
        let items = pending.withLock { pending in
            let items = pending
            pending.removeAll(keepingCapacity: true)
            return items
        }
        var written: [StreamHandler] = []
        for (handler, item) in items {
            let handler = handler.value
            if handler.take(item) { written.append(handler) }
        }
        for handler in written { handler.flushBatch() }
    }
}

/// A subscription's sink: its frames go to its connection's `StreamHandler` through the
/// loop's outbox.
struct StreamConnection: StreamSink {
    let handler: NIOLoopBound<StreamHandler>
    let outbox: LoopOutbox

    func write(_ frame: StreamFrame, for subscription: Subscription) {
        outbox.add(handler, .frame(frame, subscription))
    }

    func end(_ termination: StreamTermination, for subscription: Subscription) {
        outbox.add(handler, .end(termination, subscription))
    }
}
