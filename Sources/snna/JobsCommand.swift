import ArgumentParser
import Foundation
import SNNAService

/// `snna jobs list|retry`: the daemon's job table, read and changed through its state folder (SQLite allows this
/// while the daemon runs; a retried job is picked up within seconds).
struct JobsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "jobs",
        abstract: "List the daemon's jobs, or queue failed ones again.",
        subcommands: [List.self, Retry.self])

    struct Options: ParsableArguments {
        @Option(help: "The daemon's configuration file (its state folder holds the jobs).")
        var config: String = ServiceConfig.defaultPath

        func store() throws -> JobStore {
            do {
                let config = try ConfigLoader.load(path: config)
                guard FileManager.default.fileExists(atPath: config.state + "/jobs.sqlite") else {
                    throw StoreError("no job database in \(config.state) (has snna serve run with this configuration?)")
                }
                return try JobStore(folder: config.state)
            } catch let e as ConfigError {
                FileHandle.standardError.write(Data("snna: error: \(e.message)\n".utf8))
                throw ExitCode(ConfigError.exitCode)
            } catch let e as StoreError {
                throw ValidationError(e.message)
            }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List jobs, newest first.")
        @OptionGroup var options: Options
        @Option(help: "Only jobs in this state: queued, running, done, failed or skipped.")
        var state: String?
        @Option(help: "At most this many jobs.")
        var limit: Int = 50
        @Flag(help: "One JSON object per line instead of a table.")
        var json = false

        func validate() throws {
            if let state, JobState(rawValue: state) == nil {
                throw ValidationError("--state must be queued, running, done, failed or skipped")
            }
            if limit < 1 { throw ValidationError("--limit must be at least 1") }
        }

        func run() throws {
            let store = try options.store()
            let jobs = try store.jobs(limit: limit, states: state.flatMap(JobState.init(rawValue:)).map { [$0] })
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
                encoder.dateEncodingStrategy = .iso8601
                for job in jobs { print(String(decoding: try encoder.encode(job), as: UTF8.self)) }
                return
            }
            print("id\tstate\tattempts\tretries\tfile\terror")
            for job in jobs {
                print("\(job.id ?? 0)\t\(job.state.rawValue)\t\(job.attempts)\t\(job.retries)\t\(job.path)\t\(job.error ?? "")")
            }
        }
    }

    struct Retry: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Queue failed jobs again with a fresh attempt budget.")
        @OptionGroup var options: Options
        @Argument(help: "Job ids (see snna jobs list --state failed).")
        var ids: [Int64] = []
        @Flag(help: "Every failed job.")
        var allFailed = false

        func validate() throws {
            if ids.isEmpty == !allFailed { throw ValidationError("give job ids or --all-failed (not both)") }
        }

        func run() throws {
            let store = try options.store()
            if allFailed {
                let jobs = try store.retryAllFailed()
                print("queued \(jobs.count) failed job\(jobs.count == 1 ? "" : "s") again")
                return
            }
            var problems: [String] = []
            for id in ids {
                do {
                    let job = try store.retry(id)
                    print("queued job \(id) again: \(job.path)")
                } catch let e as StoreError { problems.append(e.message) }
            }
            if !problems.isEmpty { throw ValidationError(problems.joined(separator: "; ")) }
        }
    }
}
