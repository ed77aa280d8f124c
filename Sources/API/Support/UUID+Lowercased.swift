import Foundation

extension UUID {
    /// Ids go out in lowercase, as PostgreSQL prints them.
    var lowercased: String { uuidString.lowercased() }
}
