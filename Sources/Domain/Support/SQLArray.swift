import Foundation

/// PostgreSQL array literals for binding a list as one parameter (`$1::text[]`, `$1::uuid[]`).
enum SQLArray {
    /// A text[] literal with every element quoted and escaped.
    static func text(_ values: [String]) -> String {
        "{" + values.map { value in
            var quoted = "\""
            for character in value {
                if character == "\"" || character == "\\" { quoted.append("\\") }
                quoted.append(character)
            }
            return quoted + "\""
        }.joined(separator: ",") + "}"
    }

    /// A uuid[] literal (UUIDs need no quoting).
    static func uuids(_ ids: [UUID]) -> String {
        "{" + ids.map { $0.uuidString.lowercased() }.joined(separator: ",") + "}"
    }
}
