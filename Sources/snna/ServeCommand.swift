import ArgumentParser
import Foundation
import SNNAService

struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the daemon: watch folders and process every complete dashcam file exactly once (systemd Type=notify).",
        discussion: "Configuration: docs/daemon.md. SIGTERM/SIGINT: finish the current frame, keep the job queued, exit 0. "
            + "SIGHUP: reload the configuration (processing settings apply to the next file).")

    @Option(help: "Configuration file.")
    var config: String = ServiceConfig.defaultPath

    @Option(help: "Log format, overriding log.format: text or json.")
    var logFormat: String?

    func run() throws {
        let service: DaemonService
        do {
            service = try DaemonService(configPath: config, logFormat: logFormat)
        } catch let e as ConfigError {
            FileHandle.standardError.write(Data("snna: error: \(e.message)\n".utf8))
            throw ExitCode(ConfigError.exitCode)
        }
        do {
            let status = try service.run()
            throw ExitCode(status)
        } catch let e as ExitCode {
            throw e
        } catch let e as ConfigError {
            FileHandle.standardError.write(Data("snna: error: \(e.message)\n".utf8))
            throw ExitCode(ConfigError.exitCode)
        } catch {
            FileHandle.standardError.write(Data("snna: error: \(error)\n".utf8))
            throw ExitCode(1)
        }
    }
}
