import ArgumentParser
import SNNAService

/// `snna worker`: one job of the daemon in a process of its own (started by `snna serve`, never by hand).
struct WorkerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Run one job handed over by snna serve on stdin (internal).",
        shouldDisplay: false)

    func run() throws {
        let status = JobWorker.run()
        if status != 0 { throw ExitCode(status) }
    }
}
