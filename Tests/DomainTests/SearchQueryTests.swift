import Domain
import Testing

@Suite("Search query parsing")
struct SearchQueryTests {
    @Test("words, phrases and the prefix being typed")
    func parsing() {
        let query = SearchQuery(#"open "Harbor  Way" apart"#)
        #expect(query.words == ["open"])
        #expect(query.phrases == ["Harbor Way"])
        #expect(query.prefix == "apart")
        #expect(SearchQuery("house ").prefix == nil)
        #expect(SearchQuery("house ").words == ["house"])
    }

    @Test("tsquery syntax and emoji are separators, never operators", arguments: [
        "a & b | !c", "(x:*)", "'; DROP TABLE messages; --", "\\", "🏡🔑", "&|!():*'\"\\",
    ])
    func hostile(input: String) {
        let query = SearchQuery(input)
        for term in query.words + query.phrases + [query.prefix].compactMap({ $0 }) {
            #expect(term.allSatisfy { $0.isLetter || $0.isNumber || $0 == " " })
        }
    }
}
