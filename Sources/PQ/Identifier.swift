/// The one place SQL identifiers are quoted.
///
/// Values are always bound parameters; identifiers (schema and role names) cannot be, so they
/// are quoted here and only ever built from validated names (see `SchemaName`, `RoleName`).
public enum Identifier {
    /// `name` as a double-quoted SQL identifier, with embedded quotes doubled.
    public static func quote(_ name: String) -> String {
        var quoted = "\""
        for character in name {
            if character == "\"" { quoted += "\"\"" } else { quoted.append(character) }
        }
        return quoted + "\""
    }
}
