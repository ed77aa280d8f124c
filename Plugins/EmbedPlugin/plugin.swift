// Embeds files that live outside any target into Swift sources at build time:
//   Database ← sql/**/*.sql   (migrations; the same files `swift test` and `parley` use)
//   API      ← openapi.yaml   (served at /openapi.yaml)
//              web/**         (the web inbox and widget, served at /app/; text files only)
// SwiftPM cannot point a resource at a folder outside a target, so the files are compiled in
// and nothing needs to be found at run time (see docs/decisions/0002-embedded-sql.md).
import Foundation
import PackagePlugin

@main
struct EmbedPlugin: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: any Target) throws -> [Command] {
        let packageDir = context.package.directoryURL
        let (enumName, root, inputs): (String, URL, [URL])
        switch target.name {
        case "Database":
            root = packageDir.appending(path: "sql")
            enumName = "EmbeddedSQL"
            inputs = try files(under: root, extensions: ["sql"])
        case "API":
            root = packageDir
            enumName = "EmbeddedDocuments"
            inputs = [packageDir.appending(path: "openapi.yaml")]
                + (try files(under: packageDir.appending(path: "web"), extensions: ["html", "css", "js", "svg", "json"]))
        default:
            return []
        }
        let output = context.pluginWorkDirectoryURL.appending(path: "\(enumName).swift")
        return [
            .buildCommand(
                displayName: "Embedding \(inputs.count) file(s) into \(target.name)",
                executable: try context.tool(named: "EmbedTool").url,
                arguments: [output.path, enumName, root.path] + inputs.map(\.path),
                inputFiles: inputs,
                outputFiles: [output]
            ),
        ]
    }

    private func files(under root: URL, extensions: Set<String>) throws -> [URL] {
        guard let walker = FileManager.default.enumerator(at: root, includingPropertiesForKeys: nil) else {
            return []
        }
        var files: [URL] = []
        for case let url as URL in walker where extensions.contains(url.pathExtension) {
            files.append(url)
        }
        return files.sorted { $0.path < $1.path }
    }
}
