/// Result format requested from the server (`resultFormat` of `PQexecParams`).
public enum PQFormat: Int32, Sendable {
    case text = 0
    case binary = 1
}

/// A column of a result: name, type OID and wire format.
public struct PQColumn: Sendable, Hashable {
    public let name: String
    public let typeOID: UInt32
    public let format: PQFormat
}

/// A query result copied out of libpq's memory (the `PGresult` is cleared before this exists).
public struct PQResult: Sendable {
    public let columns: [PQColumn]
    public let rows: [PQRow]
    /// The command tag, e.g. `INSERT 0 1` or `UPDATE 3`.
    public let commandTag: String
    /// Rows affected by INSERT/UPDATE/DELETE (from `PQcmdTuples`), 0 otherwise.
    public let affectedRows: Int

    public var first: PQRow? { rows.first }
    public var isEmpty: Bool { rows.isEmpty }
}

/// Maps column names to positions; shared by every row of a result.
final class PQColumnIndex: Sendable {
    let columns: [PQColumn]
    let positions: [String: Int]

    init(columns: [PQColumn]) {
        self.columns = columns
        var positions: [String: Int] = [:]
        for (index, column) in columns.enumerated() where positions[column.name] == nil {
            positions[column.name] = index
        }
        self.positions = positions
    }
}

/// One row: cells are raw bytes (`nil` is SQL NULL) decoded on demand.
public struct PQRow: Sendable {
    let index: PQColumnIndex
    public let cells: [[UInt8]?]

    init(index: PQColumnIndex, cells: [[UInt8]?]) {
        self.index = index
        self.cells = cells
    }

    public var count: Int { cells.count }

    public func isNull(_ column: String) throws -> Bool {
        cells[try position(of: column)] == nil
    }

    /// Decodes column `position`. A NULL decodes only into an `Optional`.
    public func decode<T: PQDecodable>(_ type: T.Type = T.self, at position: Int) throws -> T {
        guard position >= 0, position < cells.count else {
            throw PQError(.usage, message: "column \(position) out of range (\(cells.count) columns)")
        }
        let column = index.columns[position]
        return try T.decode(cells[position], column: column)
    }

    /// Decodes the column named `name`.
    public func decode<T: PQDecodable>(_ type: T.Type = T.self, _ name: String) throws -> T {
        try decode(type, at: try position(of: name))
    }

    /// The raw value of a column (nil for NULL).
    public func bytes(_ name: String) throws -> [UInt8]? {
        cells[try position(of: name)]
    }

    private func position(of name: String) throws -> Int {
        guard let position = index.positions[name] else {
            throw PQError(.usage, message: "no column named \(name)")
        }
        return position
    }
}

extension PQRow {
    /// Decodes an array column (binary results) into its elements in storage order (a
    /// two-dimensional array row after row), each decoded as `T` — an Optional `T` where the
    /// array may hold NULLs. A NULL array is empty.
    public func decodeArray<T: PQDecodable>(_ type: T.Type = T.self, _ name: String) throws -> [T] {
        let position = try position(of: name)
        guard let bytes = cells[position] else { return [] }
        let column = index.columns[position]
        func invalid(_ why: String) -> PQError {
            PQError(.decoding, message: "cannot decode column \(name) (type \(column.typeOID), \(column.format)) as [\(T.self)]: \(why)")
        }
        guard column.format == .binary else { throw invalid("arrays are read from binary results only") }
        // Header: dimensions, flags, element type; per dimension its length and lower bound;
        // then each element as a length (-1 for NULL) and its bytes (the binary array format).
        var offset = 0
        func int32() throws -> Int32 {
            guard offset + 4 <= bytes.count else { throw invalid("truncated") }
            defer { offset += 4 }
            return Int32(bitPattern: UInt32(bytes[offset]) << 24 | UInt32(bytes[offset + 1]) << 16 | UInt32(bytes[offset + 2]) << 8 | UInt32(bytes[offset + 3]))
        }
        let dimensions = try int32()
        _ = try int32()
        let element = PQColumn(name: name + "[]", typeOID: UInt32(bitPattern: try int32()), format: .binary)
        guard (0...6).contains(dimensions) else { throw invalid("\(dimensions) dimensions") }
        if dimensions == 0 { return [] }
        var count = 1
        for _ in 0..<dimensions {
            let length = try int32()
            _ = try int32()
            // Each element takes at least its 4-byte length.
            guard length >= 0, count * Int(length) <= bytes.count / 4 else { throw invalid("bad length \(length)") }
            count *= Int(length)
        }
        var values: [T] = []
        values.reserveCapacity(Int(count))
        for _ in 0..<count {
            let length = try int32()
            if length < 0 {
                values.append(try T.decode(nil, column: element))
                continue
            }
            guard offset + Int(length) <= bytes.count else { throw invalid("truncated") }
            values.append(try T.decode(Array(bytes[offset..<offset + Int(length)]), column: element))
            offset += Int(length)
        }
        guard offset == bytes.count else { throw invalid("trailing bytes") }
        return values
    }
}
