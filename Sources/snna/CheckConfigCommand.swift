import ArgumentParser
import Foundation
import SNNAService

struct CheckConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config",
        abstract: "Validate the daemon's configuration and print the effective settings (file, then SNNA_* overrides).",
        discussion: "Exits 78 (EX_CONFIG) with one line naming the key and its line, or the variable, on any error. "
            + "Keys and environment variables: docs/daemon.md.")

    @Argument(help: "Configuration file.")
    var file: String = ServiceConfig.defaultPath

    func run() throws {
        do {
            let config = try ConfigLoader.load(path: file)
            print("# effective configuration: \(file) + environment", terminator: "\n")
            print(ConfigPrinter.render(config), terminator: "")
        } catch let e as ConfigError {
            FileHandle.standardError.write(Data("snna: error: \(e.message)\n".utf8))
            throw ExitCode(ConfigError.exitCode)
        }
    }
}
