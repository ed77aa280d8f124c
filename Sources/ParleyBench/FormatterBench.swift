import Domain
import Foundation

/// `--formatter`: message text → HTML for 10,000-character texts, ordinary and hostile, against
/// plain HTML escaping of the same text (the least any renderer must do). Issue 14: the target
/// is under 5 ms for anything.
func formatterBenchmark() {
    let inputs: [(String, String)] = [
        ("prose with links and bold", String(repeating: "Viewing at **10am**, see [the listing](https://example.com/l/1) or https://example.com/x. ", count: 112)),
        ("[a]( × 2,500", String(repeating: "[a](", count: 2_500)),
        ("[ × 9,999 then ](https://…)", String(repeating: "[", count: 9_999) + "](https://x.example)"),
        ("* × 10,000", String(repeating: "*", count: 10_000)),
        ("_a × 5,000", String(repeating: "_a", count: 5_000)),
        ("**a × 3,333", String(repeating: "**a", count: 3_333)),
        ("[a](http://x< × 769 then )", String(repeating: "[a](http://x<", count: 769) + ")"),
        ("]( × 5,000", String(repeating: "](", count: 5_000)),
        ("http:// × 1,428", String(repeating: "http://", count: 1_428)),
        ("*a _b [c]( × 1,000", String(repeating: "*a _b [c](", count: 1_000)),
    ]
    print("message formatting, 10,000 characters (median of 21 runs; plain escaping of the same text for comparison):")
    for (label, text) in inputs {
        func median(_ body: () -> Int) -> Double {
            var times: [Double] = []
            var sink = 0
            for _ in 0..<21 {
                let start = Stopwatch.now()
                sink &+= body()
                times.append(Double(Stopwatch.now() - start) / 1_000_000)
            }
            if sink == -1 { print(sink) }
            return times.sorted()[times.count / 2]
        }
        let formatted = median { MessageFormatter.html(text).utf8.count }
        let escaped = median { MessageFormatter.escape(text).utf8.count }
        print("  \(label): \(format(formatted)) (escaping alone \(format(escaped)), ×\(String(format: "%.1f", formatted / escaped)))")
    }
}
