import CLibPQ

extension Connection {
    /// `COPY … FROM STDIN`: sends what `next` returns (pieces of COPY text or CSV, any size;
    /// nil ends it) and returns the number of rows the server stored. If `next` throws, the
    /// COPY is aborted (nothing is stored) and the error is rethrown.
    @discardableResult
    public func copyIn(_ sql: String, _ next: () throws -> [UInt8]?) throws -> Int {
        try withConn { conn in
            guard let start = PQexec(conn, sql) else { throw PQError(.connectionLost, message: Self.errorMessage(conn)) }
            guard PQresultStatus(start) == PGRES_COPY_IN else {
                defer { PQclear(start) }
                throw Self.error(from: start, conn)
            }
            PQclear(start)
            var producerError: (any Error)?
            do {
                while let piece = try next() {
                    let sent = piece.withUnsafeBufferPointer { buffer in
                        buffer.baseAddress.map { base in
                            base.withMemoryRebound(to: CChar.self, capacity: buffer.count) { PQputCopyData(conn, $0, Int32(buffer.count)) }
                        } ?? 1
                    }
                    guard sent == 1 else { throw PQError(.connectionLost, message: Self.errorMessage(conn)) }
                }
            } catch {
                producerError = error
            }
            guard PQputCopyEnd(conn, producerError == nil ? nil : "aborted by the client") == 1 else {
                throw PQError(.connectionLost, message: Self.errorMessage(conn))
            }
            var rows = 0
            var failure: PQError?
            while let result = PQgetResult(conn) {
                defer { PQclear(result) }
                if PQresultStatus(result) == PGRES_COMMAND_OK {
                    rows = Int(String(cString: PQcmdTuples(result))) ?? 0
                } else if failure == nil {
                    failure = Self.error(from: result, conn)
                }
            }
            if let producerError { throw producerError }
            if let failure { throw failure }
            return rows
        }
    }
}
