/// A callback kept in a `Mutex` (or any generic container) and called many times.
///
/// Keep closures in this struct, never as the container's value itself: a closure stored as
/// `Mutex<(@Sendable (T) -> Void)?>` and read out with `withLock { $0 }` comes back wrapped in
/// two more reabstraction thunks on every read (the `inout` access converts it to the generic
/// representation and back, and writes the wrapped closure back). Each call then costs more
/// than the one before, and the chain ends in a stack overflow. Inside a struct the closure
/// keeps one representation (test: LiveChannelsTests).
public struct Callback<Argument>: Sendable {
    public let call: @Sendable (Argument) -> Void

    public init(_ call: @escaping @Sendable (Argument) -> Void) {
        self.call = call
    }
}
