import CLibPQ

#if canImport(Glibc)
import Glibc
#endif

extension Connection {
    /// Runs one or more statements with the simple query protocol (`PQexec`): no parameters,
    /// text results, the last statement's result returned. For BEGIN/COMMIT and migrations.
    @discardableResult
    public func exec(_ sql: String) throws -> PQResult {
        try withConn { conn in
            try Self.consume(PQexec(conn, sql), conn)
        }
    }

    /// Runs several statements in one round trip (`PQsendQuery` + `PQgetResult`) and returns
    /// every statement's result, in order. Stops at the first error (the server skips the
    /// rest of the batch) and throws it after draining the connection.
    public func execAll(_ sql: String) throws -> [PQResult] {
        try withConn { conn in
            guard PQsendQuery(conn, sql) == 1 else {
                throw PQError(PQstatus(conn) == CONNECTION_OK ? .server : .connectionLost, message: Self.errorMessage(conn))
            }
            var results: [PQResult] = []
            var failure: PQError?
            while let result = PQgetResult(conn) {
                defer { PQclear(result) }
                switch PQresultStatus(result) {
                case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_EMPTY_QUERY:
                    if failure == nil { results.append(Self.copy(result)) }
                default:
                    if failure == nil { failure = Self.error(from: result, conn) }
                }
            }
            if let failure { throw failure }
            if PQstatus(conn) != CONNECTION_OK { throw PQError(.connectionLost, message: Self.errorMessage(conn)) }
            return results
        }
    }

    /// One statement of a pipeline: unnamed (parsed and planned each time), or the named
    /// prepared statement `prepared`, created first in the same round trip when `prepare` is set.
    public struct PipelineStatement: Sendable {
        public var sql: String
        public var params: [PQValue]
        public var prepared: String?
        public var prepare: Bool

        public init(sql: String, params: [PQValue], prepared: String? = nil, prepare: Bool = false) {
            self.sql = sql
            self.params = params
            self.prepared = prepared
            self.prepare = prepare
        }
    }

    /// Runs statements with bound parameters in libpq pipeline mode: all are sent, then one
    /// sync, then the results are read — one round trip for the lot. Returns each statement's
    /// result in order, or throws the first failure (later statements are then skipped by the
    /// server; an open transaction is left aborted for the caller to roll back).
    public func pipeline(_ statements: [(sql: String, params: [PQValue])], resultFormat: PQFormat = .binary) throws -> [PQResult] {
        try pipeline(statements.map { PipelineStatement(sql: $0.sql, params: $0.params) }, resultFormat: resultFormat) { _ in }
    }

    /// Like the above, with named prepared statements: `prepared(name)` is called for every
    /// statement this pipeline created (prepared statements outlive a failed pipeline and a
    /// rolled-back transaction, so the caller must know them even when this throws).
    public func pipeline(
        _ statements: [PipelineStatement], resultFormat: PQFormat = .binary, prepared: (String) -> Void
    ) throws -> [PQResult] {
        try withConn { conn in
            guard PQenterPipelineMode(conn) == 1 else {
                throw PQError(.usage, message: "cannot enter pipeline mode: \(Self.errorMessage(conn))")
            }
            defer { _ = PQexitPipelineMode(conn) }
            // What each result group that comes back is: a statement's result, or a PREPARE's.
            var groups: [String?] = []
            for statement in statements {
                if let name = statement.prepared, statement.prepare {
                    guard PQsendPrepare(conn, name, statement.sql, 0, nil) == 1 else {
                        throw PQError(.connectionLost, message: Self.errorMessage(conn))
                    }
                    groups.append(name)
                }
                let sent = try withParams(statement.params) { count, types, values, lengths, formats in
                    if let name = statement.prepared {
                        PQsendQueryPrepared(conn, name, count, values, lengths, formats, resultFormat.rawValue)
                    } else {
                        PQsendQueryParams(conn, statement.sql, count, types, values, lengths, formats, resultFormat.rawValue)
                    }
                }
                guard sent == 1 else { throw PQError(.connectionLost, message: Self.errorMessage(conn)) }
                groups.append(nil)
            }
            guard PQpipelineSync(conn) == 1 else { throw PQError(.connectionLost, message: Self.errorMessage(conn)) }
            var results: [PQResult] = []
            var failure: PQError?
            for group in groups {
                // Each command's results end with a NULL from PQgetResult.
                while let result = PQgetResult(conn) {
                    defer { PQclear(result) }
                    switch PQresultStatus(result) {
                    case PGRES_COMMAND_OK where group != nil:
                        if let group { prepared(group) }
                    case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_EMPTY_QUERY:
                        results.append(Self.copy(result))
                    case PGRES_PIPELINE_ABORTED:
                        break
                    default:
                        if failure == nil { failure = Self.error(from: result, conn) }
                    }
                }
                if PQstatus(conn) != CONNECTION_OK { throw PQError(.connectionLost, message: Self.errorMessage(conn)) }
            }
            // The sync's own result closes the pipeline.
            while let result = PQgetResult(conn) {
                let status = PQresultStatus(result)
                PQclear(result)
                if status == PGRES_PIPELINE_SYNC { break }
            }
            if let failure { throw failure }
            return results
        }
    }

    /// Runs one statement with bound parameters (`PQexecParams`), parsed and planned each time.
    @discardableResult
    public func execParams(_ sql: String, _ params: [PQValue], resultFormat: PQFormat = .binary) throws -> PQResult {
        try withConn { conn in
            try withParams(params) { count, types, values, lengths, formats in
                try Self.consume(
                    PQexecParams(conn, sql, count, types, values, lengths, formats, resultFormat.rawValue), conn)
            }
        }
    }

    /// Creates a named prepared statement on this connection (`PQprepare`).
    public func prepare(_ name: String, _ sql: String) throws {
        try withConn { conn in
            _ = try Self.consume(PQprepare(conn, name, sql, 0, nil), conn)
        }
    }

    /// Executes a named prepared statement (`PQexecPrepared`).
    @discardableResult
    public func execPrepared(_ name: String, _ params: [PQValue], resultFormat: PQFormat = .binary) throws -> PQResult {
        try withConn { conn in
            try withParams(params) { count, _, values, lengths, formats in
                try Self.consume(
                    PQexecPrepared(conn, name, count, values, lengths, formats, resultFormat.rawValue), conn)
            }
        }
    }

    /// Turns a `PGresult` into a `PQResult` or a `PQError`, and clears it before returning.
    static func consume(_ result: OpaquePointer?, _ conn: OpaquePointer) throws -> PQResult {
        guard let result else {
            throw PQError(PQstatus(conn) == CONNECTION_OK ? .server : .connectionLost, message: errorMessage(conn))
        }
        defer { PQclear(result) }
        switch PQresultStatus(result) {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_EMPTY_QUERY, PGRES_SINGLE_TUPLE:
            return copy(result)
        default:
            throw error(from: result, conn)
        }
    }

    static func error(from result: OpaquePointer, _ conn: OpaquePointer) -> PQError {
        func field(_ code: Character) -> String? {
            guard let ascii = code.asciiValue, let value = PQresultErrorField(result, Int32(ascii)) else { return nil }
            return String(cString: value)
        }
        let lost = PQstatus(conn) != CONNECTION_OK
        let sqlState = field("C").map(SQLState.init(rawValue:))
        var message = field("M") ?? ""
        if message.isEmpty, let text = PQresultErrorMessage(result) {
            message = String(cString: text).trimmingTrailingNewlines()
        }
        if message.isEmpty { message = errorMessage(conn) }
        let kind: PQError.Kind = lost || (sqlState?.isConnectionException ?? false) ? .connectionLost : .server
        return PQError(
            kind, sqlState: sqlState, message: message,
            detail: field("D"), hint: field("H"), constraint: field("n"), routine: field("R"))
    }

    /// Copies every field out of C memory (the caller clears the result right after).
    static func copy(_ result: OpaquePointer) -> PQResult {
        let columnCount = Int(PQnfields(result))
        let rowCount = Int(PQntuples(result))
        var columns: [PQColumn] = []
        columns.reserveCapacity(columnCount)
        for column in 0..<columnCount {
            let name = PQfname(result, Int32(column)).map { String(cString: $0) } ?? ""
            columns.append(PQColumn(
                name: name,
                typeOID: UInt32(PQftype(result, Int32(column))),
                format: PQfformat(result, Int32(column)) == 1 ? .binary : .text))
        }
        let index = PQColumnIndex(columns: columns)
        var rows: [PQRow] = []
        rows.reserveCapacity(rowCount)
        for row in 0..<rowCount {
            var cells: [[UInt8]?] = []
            cells.reserveCapacity(columnCount)
            for column in 0..<columnCount {
                if PQgetisnull(result, Int32(row), Int32(column)) == 1 {
                    cells.append(nil)
                    continue
                }
                let length = Int(PQgetlength(result, Int32(row), Int32(column)))
                guard let value = PQgetvalue(result, Int32(row), Int32(column)), length > 0 else {
                    cells.append([])
                    continue
                }
                cells.append(value.withMemoryRebound(to: UInt8.self, capacity: length) {
                    Array(UnsafeBufferPointer(start: $0, count: length))
                })
            }
            rows.append(PQRow(index: index, cells: cells))
        }
        let tag = PQcmdStatus(result).map { String(cString: $0) } ?? ""
        let affected = PQcmdTuples(result).flatMap { Int(String(cString: $0)) } ?? 0
        return PQResult(columns: columns, rows: rows, commandTag: tag, affectedRows: affected)
    }
}

/// Lays out parameters as libpq wants them, alive for the duration of `body`.
///
/// Text goes as NUL-terminated UTF-8 with type OID 0 (inferred by the server); bytes go in
/// binary format as `bytea`. A text value containing NUL is refused: PostgreSQL text cannot
/// hold it, and silently truncating at the NUL would store something the caller did not send.
private func withParams<T>(
    _ params: [PQValue],
    _ body: (
        Int32, UnsafePointer<Oid>?, UnsafePointer<UnsafePointer<CChar>?>?, UnsafePointer<Int32>?,
        UnsafePointer<Int32>?
    ) throws -> T
) throws -> T {
    let count = params.count
    if count == 0 { return try body(0, nil, nil, nil, nil) }
    var types = [Oid](repeating: 0, count: count)
    var lengths = [Int32](repeating: 0, count: count)
    var formats = [Int32](repeating: 0, count: count)
    var buffers = [UnsafeMutablePointer<CChar>?](repeating: nil, count: count)
    defer { buffers.forEach { free($0) } }
    for (index, param) in params.enumerated() {
        switch param {
        case .null:
            break
        case .text(let text):
            if text.utf8.contains(0) {
                throw PQError(.usage, sqlState: .characterNotInRepertoire, message: "parameter \(index + 1) contains a NUL character")
            }
            buffers[index] = strdup(text)
        case .bytes(let bytes):
            // malloc(0) may return NULL, which libpq would read as SQL NULL: allocate at least one byte.
            guard let owned = malloc(max(bytes.count, 1))?.assumingMemoryBound(to: CChar.self) else {
                throw PQError(.usage, message: "out of memory binding parameter \(index + 1)")
            }
            bytes.withUnsafeBytes { source in
                if let base = source.baseAddress { UnsafeMutableRawPointer(owned).copyMemory(from: base, byteCount: source.count) }
            }
            buffers[index] = owned
            types[index] = Oid(PQType.bytea)
            lengths[index] = Int32(clamping: bytes.count)
            formats[index] = 1
        }
    }
    let values: [UnsafePointer<CChar>?] = buffers.map { $0.map { UnsafePointer($0) } }
    return try types.withUnsafeBufferPointer { typePointer in
        try values.withUnsafeBufferPointer { valuePointer in
            try lengths.withUnsafeBufferPointer { lengthPointer in
                try formats.withUnsafeBufferPointer { formatPointer in
                    try body(
                        Int32(count), typePointer.baseAddress, valuePointer.baseAddress,
                        lengthPointer.baseAddress, formatPointer.baseAddress)
                }
            }
        }
    }
}
