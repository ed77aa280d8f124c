/// One run at a time per brokerage, and none lost: a request while a run is under way does not
/// start a second one but asks the running one to go once more when it ends. Used for the live
/// stream's event reads (EventDispatcher) and the webhook passes (WebhookDeliverer); it lives in
/// their per-brokerage state, under their lock.
struct OneRunAtATime: Sendable {
    private(set) var running = false
    private var requested = false

    /// Asks for a run. True: none was under way, the caller starts it now. False: one is under
    /// way and will run once more after it ends.
    mutating func request() -> Bool {
        if running {
            requested = true
            return false
        }
        running = true
        requested = false
        return true
    }

    /// The run ended. True: it is to go again (asked for meanwhile, or `more` work is known to
    /// be waiting); false: nothing is running now.
    mutating func finish(more: Bool = false) -> Bool {
        if requested || more {
            requested = false
            return true
        }
        running = false
        return false
    }

    /// The run stops for good (shutting down): nothing is running, nothing is asked for.
    mutating func abandon() {
        running = false
        requested = false
    }
}
