import Foundation

/// A new brokerage's schema as one script (docs/decisions/0045-tenant-baseline.md): the
/// `pg_dump` of a schema provisioned by replaying every migration and function file, with the
/// schema's and role's names replaced by placeholders. Functions and triggers are left out
/// (the function files create them, so each has one home), and so are the reporting views
/// (created from their files): what remains is tables, indexes, constraints, sequences and
/// seed rows — what the migrations build, without their history. Creating a brokerage from
/// it skips what the replay does and undoes (column rewrites, dropped and recreated triggers,
/// functions created twice): ~0.55 of the CPU.
///
/// `sql/baseline/tenant.sql` is written by `TenantBaselineTests` (`PARLEY_WRITE_BASELINE=1`),
/// which also checks that the committed file is what this build's files produce and that a
/// brokerage created from it dumps the same as a replayed one.
public enum TenantBaseline {
    /// The first line: the `Migrations.tenantChecksum` the file was generated from.
    public static let header = "-- parley-baseline-of: "
    static let schemaPlaceholder = "@SCHEMA@"
    static let rolePlaceholder = "@ROLE@"

    /// The file's text from a `pg_dump --schema=<schema>` of a replayed schema: session settings,
    /// psql meta-commands, ownership and the schema's own creation left out (provisioning runs
    /// in the brokerage's transaction, as its role, in a schema that exists); names replaced.
    public static func text(fromDump dump: String, schema: String, role: String) -> String {
        // pg_dump introduces each object with "--", "-- Name: …; Type: T; …", "--".
        var kept: [Substring] = []
        var skipping = false
        for line in dump.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("-- Name: ") {
                skipping = line.contains("; Type: FUNCTION;") || line.contains("; Type: TRIGGER;")
                if kept.last == "--" { kept.removeLast() }
                if skipping { continue }
                kept.append("--")
            }
            if !skipping { kept.append(line) }
        }
        var lines: [String] = []
        for line in kept {
            if line.hasPrefix("SET ") || line.hasPrefix("SELECT pg_catalog.set_config(") || line.hasPrefix("\\")
                || line.hasPrefix("-- Dumped ") || line.hasPrefix("CREATE SCHEMA ") || line.hasSuffix(" OWNER TO \(role);") {
                continue
            }
            lines.append(String(line))
        }
        var text = lines.joined(separator: "\n")
        text = text.replacingOccurrences(of: role, with: rolePlaceholder).replacingOccurrences(of: schema, with: schemaPlaceholder)
        while text.contains("\n\n\n") { text = text.replacingOccurrences(of: "\n\n\n", with: "\n\n") }
        return header + Migrations.tenantChecksum + "\n" + text.trimmingCharacters(in: .newlines) + "\n"
    }

    /// The script for one brokerage.
    static func script(_ baseline: String, scope: TenantScope) -> String {
        baseline.replacingOccurrences(of: rolePlaceholder, with: scope.role.quoted)
            .replacingOccurrences(of: schemaPlaceholder, with: scope.schema.quoted)
    }
}
