/// Tests that start server processes or PostgreSQL clusters take turns: each brings several
/// processes' worth of CPU, and when they overlapped, ordinary tests of the suite (two cores
/// for all of it) waited more than their client's 20 s for an answer.
public enum HeavyTest {
    private static let turns = Turns()

    /// Runs `body` when no other heavy test is running.
    public static func run<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        await turns.acquire()
        do {
            let value = try await body()
            await turns.release()
            return value
        } catch {
            await turns.release()
            throw error
        }
    }

    private actor Turns {
        var busy = false
        var waiting: [CheckedContinuation<Void, Never>] = []

        func acquire() async {
            if !busy {
                busy = true
                return
            }
            await withCheckedContinuation { waiting.append($0) }
        }

        func release() {
            if waiting.isEmpty {
                busy = false
            } else {
                waiting.removeFirst().resume()
            }
        }
    }
}
