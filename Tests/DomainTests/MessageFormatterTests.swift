import Domain
import Foundation
import Testing

@Suite("Message text → safe HTML")
struct MessageFormatterTests {
    @Test("the formatting subset renders", arguments: [
        ("**bold**", "<strong>bold</strong>"),
        ("*it* and _it_", "<em>it</em> and <em>it</em>"),
        ("snake_case_name stays", "snake_case_name stays"),
        ("line one\nline two", "line one<br>line two"),
        ("- a\n- b\nafter", "<ul><li>a</li><li>b</li></ul>after"),
        ("see [the house](https://example.com/h?a=1&b=2)", "see <a href=\"https://example.com/h?a=1&amp;b=2\" rel=\"nofollow noopener noreferrer\">the house</a>"),
        ("go to https://example.com/x.", "go to <a href=\"https://example.com/x\" rel=\"nofollow noopener noreferrer\">https://example.com/x</a>."),
        ("2 < 3 & 5 > 4", "2 &lt; 3 &amp; 5 &gt; 4"),
        ("price: $450,000 * 2", "price: $450,000 * 2"),
    ])
    func subset(input: String, expected: String) {
        #expect(MessageFormatter.html(input) == expected)
    }

    /// Known XSS payloads (OWASP cheat sheet and friends). None may come back as live markup.
    /// The same corpus is rendered in a real browser by scripts/browser_check.py (issue 20).
    static let payloads: [String] = {
        let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../Fixtures/xss-payloads.json").standardizedFileURL
        guard let data = try? Data(contentsOf: file), let list = try? JSONDecoder().decode([String].self, from: data), list.count >= 40 else {
            return ["<the XSS corpus could not be read from \(file.path)>"]
        }
        return list
    }()

    @Test("escaping works on bytes: a quote or bracket with a combining mark is still escaped")
    func escapeCombining() {
        #expect(MessageFormatter.escape("\"\u{301}<\u{301}>&'") == "&quot;\u{301}&lt;\u{301}&gt;&amp;&#39;")
        #expect(MessageFormatter.escape("plain é 🏡") == "plain é 🏡")
    }

    @Test("the XSS corpus is read from Tests/Fixtures/xss-payloads.json")
    func corpus() {
        #expect(Self.payloads.count >= 40)
        #expect(Self.payloads.contains("<script>alert(1)</script>"))
    }

    @Test("no XSS payload comes back live", arguments: payloads)
    func xss(payload: String) throws {
        let html = MessageFormatter.html(payload)
        let lower = html.lowercased()
        #expect(!lower.contains("<script"))
        #expect(!lower.contains("href=\"javascript:"))
        #expect(!lower.contains("href=\"data:"))
        #expect(!lower.contains("href=\"vbscript:"))
        // Only our tags, with only our attributes.
        var rest = Substring(html)
        while let open = rest.firstIndex(of: "<") {
            let tagEnd = try #require(rest[open...].firstIndex(of: ">"), "unterminated tag in \(html)")
            let tag = String(rest[open...tagEnd])
            let allowed = ["<strong>", "</strong>", "<em>", "</em>", "<ul>", "</ul>", "<li>", "</li>", "<br>", "</a>"]
            if !allowed.contains(tag) {
                #expect(tag.hasPrefix("<a href=\"http") || tag.hasPrefix("<a href=\"mailto:"), "unexpected tag \(tag)")
                #expect(tag.hasSuffix("\" rel=\"nofollow noopener noreferrer\">"), "unexpected attributes in \(tag)")
                let href = tag.dropFirst("<a href=\"".count).prefix { $0 != "\"" }
                #expect(!href.contains("<") && !href.contains(">") && !href.contains("'"))
            }
            rest = rest[rest.index(after: tagEnd)...]
        }
    }
}

extension MessageFormatterTests {
    /// Inputs built from the characters every construct is made of, so that random strings
    /// hit unclosed, nested, adjacent and overlapping markers constantly.
    static let alphabet: [String] = ["*", "*", "_", "[", "]", "(", ")", "](", "**", "a", "b", " ", " ", "\n", "\r\n", "-", ":", "/",
                                     "https://", "http://", "mailto:", "x.y", "<", "\"", "é", "1", ".", "\u{301}", "\t"]

    @Test("the linear formatter renders exactly what the straightforward one did, for 30,000 random marker-dense texts")
    func agreesWithReference() async {
        var generator = SplitMix(seed: 0x5EED_F00D)
        for round in 0..<30_000 {
            // Seconds of CPU in all: let the other tests' tasks run in between (the whole suite
            // shares two cooperative threads).
            if round.isMultiple(of: 100) { await Task.yield() }
            let length = Int(generator.next() % 24) + 1
            let text = (0..<length).map { _ in Self.alphabet[Int(generator.next() % UInt64(Self.alphabet.count))] }.joined()
            let expected = ReferenceFormatter.html(text)
            let actual = MessageFormatter.html(text)
            #expect(actual == expected, "round \(round): \(text.debugDescription)")
            if actual != expected { return }
        }
    }

    @Test("pathological texts of 10,000 characters format completely and safely", arguments: [
        String(repeating: "[a](", count: 2_500), String(repeating: "[", count: 9_999) + "](https://x.example)",
        String(repeating: "*", count: 10_000), String(repeating: "_a", count: 5_000), String(repeating: "**a", count: 3_333),
        String(repeating: "`", count: 10_000), String(repeating: "[a](http://x<", count: 769) + ")",
        String(repeating: "](", count: 5_000), String(repeating: "http://", count: 1_428), String(repeating: "*a _b [c](", count: 1_000),
    ])
    func pathological(text: String) {
        let html = MessageFormatter.html(text)
        // Every input character is in the output (escaped or as text); nothing is dropped.
        #expect(html.count >= text.count - text.filter { "*_".contains($0) }.count)
        #expect(!html.contains("<script"))
    }
}

/// A small deterministic generator, so a failure names a reproducible round.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite("Contact points")
struct ContactPointTests {
    @Test("phones normalize to E.164", arguments: [
        ("(555) 123-4567", "+15551234567"), ("555.123.4567", "+15551234567"), ("+1 555 123 4567", "+15551234567"),
        ("1-555-123-4567", "+15551234567"), ("+44 20 7946 0958", "+442079460958"), ("0044 20 7946 0958", "+442079460958"),
    ])
    func phone(input: String, expected: String) {
        #expect(ContactPoint.phone(input) == expected)
    }

    @Test("non-phones are refused", arguments: ["12", "call me", "555-CALL-NOW", "+0 123 4567", "123456789012345678"])
    func notPhone(input: String) {
        #expect(ContactPoint.phone(input) == nil)
    }

    @Test("emails", arguments: [("a@b.co", true), (" Maria@Example.com ", true), ("no-at.example.com", false), ("a@b", false), ("a b@c.de", false), ("a@-b.com", false)])
    func email(input: String, valid: Bool) {
        #expect((ContactPoint.email(input) != nil) == valid)
    }
}

@Suite("JSON dates")
struct DateFormatTests {
    @Test("dates are ISO 8601 UTC with milliseconds", arguments: [
        (0.0, "1970-01-01T00:00:00.000Z"), (1_764_077_156.034, "2025-11-25T13:25:56.034Z"),
        (951_782_400.5, "2000-02-29T00:00:00.500Z"), (-1.25, "1969-12-31T23:59:58.750Z"),
        (-30_610_224_000, "1000-01-01T00:00:00.000Z"), (253_402_300_799.999, "9999-12-31T23:59:59.999Z"), (253_402_300_800, "10000-01-01T00:00:00.000Z"),
    ])
    func format(seconds: Double, expected: String) {
        #expect(ParleyJSON.format(Date(timeIntervalSince1970: seconds)) == expected)
    }
}
