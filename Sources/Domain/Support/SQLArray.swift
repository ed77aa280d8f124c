import Foundation

/// PostgreSQL array literals for binding a list as one parameter (`$1::text[]`, `$1::uuid[]`).
enum SQLArray {
    /// A text[] literal with every element quoted and escaped.
    ///
    /// Escaped scalar by scalar, as PostgreSQL's array parser reads it (byte by byte): a `"`
    /// with a combining mark after it, or a prepend character before it, is one Swift
    /// `Character` that is not equal to `"`, and went into the literal unescaped — ending the
    /// element there, so an id could add elements of its choosing to the array.
    static func text(_ values: [String]) -> String {
        "{" + values.map { value in
            var quoted = String.UnicodeScalarView()
            quoted.append("\"")
            for scalar in value.unicodeScalars {
                if scalar == "\"" || scalar == "\\" { quoted.append("\\") }
                quoted.append(scalar)
            }
            quoted.append("\"")
            return String(quoted)
        }.joined(separator: ",") + "}"
    }

    /// A uuid[] literal (UUIDs need no quoting).
    static func uuids(_ ids: [UUID]) -> String {
        "{" + ids.map { $0.uuidString.lowercased() }.joined(separator: ",") + "}"
    }
}
