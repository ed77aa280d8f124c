@testable import Domain
import Dispatch
import Synchronization
import Testing

@Suite("Live channels")
struct LiveChannelsTests {
    /// The fastest of `batches` runs of `calls` wake-ups, in nanoseconds (the minimum shrugs off
    /// a run that was interrupted).
    static func fastestBatch(_ channels: LiveChannels, batches: Int = 10, calls: Int = 200) -> UInt64 {
        var fastest = UInt64.max
        for _ in 0..<batches {
            let start = DispatchTime.now().uptimeNanoseconds
            for _ in 0..<calls { channels.wakeLocally("demo") }
            fastest = min(fastest, DispatchTime.now().uptimeNanoseconds - start)
        }
        return fastest
    }

    /// Every send wakes the process's dispatcher through this callback. Its closure, kept in
    /// a Mutex and read out by `withLock { $0 }`, was wrapped in two more reabstraction thunks
    /// on every read: each wake-up cost more than the one before (a server sending 300 msgs/s
    /// lost half its throughput within a minute), and the chain would in time overflow the stack.
    @Test("the 20,000th wake-up costs what the first did")
    func wakeUpsDoNotSlowDown() {
        let channels = LiveChannels()
        let woken = Atomic<Int>(0)
        channels.onLocalWake { _ in woken.add(1, ordering: .relaxed) }
        let first = Self.fastestBatch(channels)
        for _ in 0..<20_000 { channels.wakeLocally("demo") }
        let later = Self.fastestBatch(channels)
        #expect(woken.load(ordering: .relaxed) == 20_000 + 2 * 10 * 200)
        #expect(later < max(first, 20_000) * 10, "200 wake-ups took \(first) ns at first, \(later) ns after 20,000")
    }
}
