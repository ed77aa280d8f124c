import DatabaseTesting
import Foundation
import PQ
import Testing

@Suite("PQ: COPY FROM STDIN")
struct CopyTests {
    struct Refused: Error {}

    @Test("rows arrive in any piece sizes; a failing producer or bad data stores nothing and leaves the connection usable")
    func copyIn() async throws {
        let outcome = try await withRawConnection { connection -> (Int, [String], Bool, String?, Int) in
            _ = try connection.exec("CREATE TEMP TABLE copied (n int, t text)")
            // COPY text format: tab-separated, \t \n \\ escaped, \N for NULL; split mid-row.
            let data = Array("1\tplain\n2\ttab\\there\n3\t\\N\n4\tcafé 🏡\n".utf8)
            var pieces = stride(from: 0, to: data.count, by: 7).map { Array(data[$0..<min($0 + 7, data.count)]) }.makeIterator()
            let rows = try connection.copyIn("COPY copied FROM STDIN") { pieces.next() }
            let stored = try connection.exec("SELECT coalesce(t, 'NULL') AS t FROM copied ORDER BY n").rows.map { try $0.decode(String.self, "t") }

            var sent = 0
            var aborted = false
            do {
                try connection.copyIn("COPY copied FROM STDIN") {
                    sent += 1
                    if sent == 3 { throw Refused() }
                    return Array("9\tnever\n".utf8)
                }
            } catch is Refused {
                aborted = true
            }
            var bad: String?
            do {
                try connection.copyIn("COPY copied FROM STDIN") { sent < 100 ? { sent = 100; return Array("x\ty\n".utf8) }() : nil }
            } catch let error as PQError {
                bad = error.sqlState?.rawValue
            }
            let count = try connection.exec("SELECT count(*)::int AS n FROM copied").rows[0].decode(Int.self, "n")
            return (rows, stored, aborted, bad, count)
        }
        #expect(outcome.0 == 4)
        #expect(outcome.1 == ["plain", "tab\there", "NULL", "café 🏡"])
        #expect(outcome.2)
        #expect(outcome.3 == "22P02")
        #expect(outcome.4 == 4)
    }
}
