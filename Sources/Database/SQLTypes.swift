import PQ

// The names the layers above use for what a query takes and gives. They are libpq's types
// (copied out of C memory, decoded by column name), named here so that Domain and API
// import Database alone; errors arrive as `DatabaseError`.

/// A value bound to a `$n` parameter (String, Int, UUID, Date, [UInt8], Bool, optionals, …).
public typealias SQLEncodable = PQEncodable
/// A JSON value bound as text, for `$n::jsonb`.
public typealias SQLJSON = PQJSON
/// One row of a result: `row.decode(T.self, "column")`, `row.decodeJSON(T.self, "column")`.
public typealias Row = PQRow
/// A statement's result: `rows`, `first`, `isEmpty`.
public typealias QueryResult = PQResult
/// A NOTIFY received by the `NotificationListener`: `channel`, `payload`.
public typealias DatabaseNotification = PQNotification
