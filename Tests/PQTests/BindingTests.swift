import DatabaseTesting
import Foundation
import PQ
import Testing

@Suite("PQ: parameters and values")
struct BindingTests {
    static let hostile: [String] = [
        "O'Brien", "'; DROP TABLE users; --", "\"quoted\" \\backslash\\ $1 $$dollar$$",
        "emoji 🏡🔑👩🏽‍💼", "combining e\u{301} and RTL \u{202E}txet", "中文 русский العربية",
        "line\nbreak\ttab\r\n", "%s %d {0} ${x}", String(repeating: "x", count: 1),
        "", "\u{FEFF}bom", "null\u{01}control",
    ]

    @Test("hostile strings round-trip unchanged, prepared and unprepared")
    func hostileStrings() async throws {
        let echoed = try await withRawConnection { connection in
            try connection.prepare("echo", "SELECT $1::text AS value")
            return try Self.hostile.map { text in
                let direct = try connection.execParams("SELECT $1::text AS value", [.text(text)]).rows[0].decode(String.self, "value")
                let prepared = try connection.execPrepared("echo", [.text(text)]).rows[0].decode(String.self, "value")
                return [direct, prepared]
            }
        }
        for (text, values) in zip(Self.hostile, echoed) {
            #expect(values == [text, text])
        }
    }

    @Test("a 1 MB text parameter round-trips")
    func megabyteText() async throws {
        let text = String(repeating: "añ🏡'\"", count: 1_048_576 / 10)
        let length = try await withRawConnection { connection in
            try connection.execParams("SELECT $1::text AS value, char_length($1::text) AS n", [.text(text)]).rows[0]
        }
        #expect(try length.decode(String.self, "value") == text)
        #expect(try length.decode(Int.self, "n") == text.count)
    }

    @Test("a text parameter containing NUL is refused, not truncated")
    func nulInText() async throws {
        await #expect(throws: PQError.self) {
            try await withRawConnection { connection in
                try connection.execParams("SELECT $1::text", [.text("before\u{0}after")])
            }
        }
    }

    @Test("NULL binds and decodes only into Optionals")
    func nulls() async throws {
        let row = try await withRawConnection { connection in
            try connection.execParams("SELECT $1::text AS t, $2::int AS i, NULL::uuid AS u", [.null, PQValue.null]).rows[0]
        }
        #expect(try row.decode(String?.self, "t") == nil)
        #expect(try row.decode(Int?.self, "i") == nil)
        #expect(try row.decode(UUID?.self, "u") == nil)
        #expect(throws: PQError.self) { try row.decode(String.self, "t") }
    }

    @Test("a 10 MB bytea round-trips byte for byte, binary and hex")
    func tenMegabyteBytea() async throws {
        let bytes = randomBytes(10 * 1024 * 1024)
        let (binary, hex, length) = try await withRawConnection { connection in
            try connection.exec("CREATE TEMP TABLE blob (data bytea)")
            try connection.execParams("INSERT INTO blob VALUES ($1)", [.bytes(bytes)])
            let binary = try connection.execParams("SELECT data, length(data) AS n FROM blob", []).rows[0]
            let text = try connection.exec("SELECT data FROM blob").rows[0]
            return (try binary.decode([UInt8].self, "data"), try text.decode([UInt8].self, "data"), try binary.decode(Int.self, "n"))
        }
        #expect(length == bytes.count)
        #expect(binary == bytes)
        #expect(hex == bytes)
    }

    @Test("arrays decode element by element in storage order: NULL elements, two dimensions, empty and NULL arrays")
    func arrays() async throws {
        let elements = Self.hostile.indices.map { "$\($0 + 1)::text" }.joined(separator: ", ")
        let sql = """
            SELECT ARRAY[\(elements)] AS texts, ARRAY[1, -2, 9000000000]::int8[] AS numbers,
                   ARRAY[ARRAY['a', NULL], ARRAY['c', 'd']] AS grid, '{}'::text[] AS empty, NULL::text[] AS missing
            """
        let params = Self.hostile.map { PQValue.text($0) }
        let (row, text) = try await withRawConnection { connection in
            (try connection.execParams(sql, params).rows[0], try connection.execParams(sql, params, resultFormat: .text).rows[0])
        }
        #expect(try row.decodeArray(String.self, "texts") == Self.hostile)
        #expect(try row.decodeArray(Int64.self, "numbers") == [1, -2, 9_000_000_000])
        #expect(try row.decodeArray(String?.self, "grid") == ["a", nil, "c", "d"])
        #expect(try row.decodeArray(String.self, "empty").isEmpty)
        #expect(try row.decodeArray(String.self, "missing").isEmpty)
        // A NULL element needs an Optional; text results are refused, not misread.
        #expect(throws: PQError.self) { try row.decodeArray(String.self, "grid") }
        #expect(throws: PQError.self) { try text.decodeArray(String.self, "texts") }
    }

    @Test("built-in types decode in binary and text format")
    func types() async throws {
        let id = UUID()
        let when = Date(timeIntervalSince1970: 1_764_000_000.123456)
        let sql = """
            SELECT 7::int2 AS a, 70000::int4 AS b, 9000000000::int8 AS c, true AS d, $1::uuid AS e,
                   $2::timestamptz AS f, '{"k": [1, "two"]}'::jsonb AS g, 2.5::float8 AS h, 'txt'::varchar AS i
            """
        let (binary, text) = try await withRawConnection { connection in
            let binary = try connection.execParams(sql, [id.pqValue, when.pqValue]).rows[0]
            let text = try connection.execParams(sql, [id.pqValue, when.pqValue], resultFormat: .text).rows[0]
            return (binary, text)
        }
        for row in [binary, text] {
            #expect(try row.decode(Int.self, "a") == 7)
            #expect(try row.decode(Int32.self, "b") == 70000)
            #expect(try row.decode(Int64.self, "c") == 9_000_000_000)
            #expect(try row.decode(Bool.self, "d") == true)
            #expect(try row.decode(UUID.self, "e") == id)
            #expect(abs(try row.decode(Date.self, "f").timeIntervalSince(when)) < 0.000_001)
            let json = try row.decode(String.self, "g")
            #expect(json.contains("\"two\""))
            #expect(try row.decode(Double.self, "h") == 2.5)
            #expect(try row.decode(String.self, "i") == "txt")
        }
    }

    @Test("a time beyond what PostgreSQL stores binds as ±infinity, never a trap: a forged cursor can name any time")
    func extremeDates() async throws {
        let dates = [Date(timeIntervalSince1970: 9.223372036854775807e12), Date(timeIntervalSince1970: -9.223372036854775808e12),
                     Date(timeIntervalSince1970: 1e300), Date(timeIntervalSince1970: -1e300), Date.distantFuture.addingTimeInterval(1e15),
                     Date(timeIntervalSince1970: .infinity), Date(timeIntervalSince1970: 253_402_300_799.5)]
        let answers = try await withRawConnection { connection in
            try dates.map { try connection.execParams("SELECT $1::timestamptz::text AS t", [$0.pqValue]).rows[0].decode(String.self, "t") }
        }
        #expect(answers == ["infinity", "-infinity", "infinity", "-infinity", "infinity", "infinity", "9999-12-31 23:59:59.5+00"])
    }
}

