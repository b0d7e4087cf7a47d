import Foundation
import Testing
@testable import SNNAService
@testable import SNNAPipeline

@Suite struct ConfigLoaderTests {
    static let shipped = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Config/snna.yaml").path

    let minimal = """
    watch: [/data/cam]
    output: /data/out
    state: /data/state
    model: /data/m.safetensors
    """

    func error(_ yaml: String, env: [String: String] = [:]) -> String {
        do {
            _ = try ConfigLoader.parse(yaml, source: "t.yaml", environment: env)
            return "parsed"
        } catch { return "\(error)" }
    }

    @Test func theShippedFileIsValidAndMatchesTheDefaults() throws {
        let c = try ConfigLoader.load(path: Self.shipped, environment: [:])
        #expect(c.watch == [.init(path: "/srv/dashcam", recursive: true, patterns: ServiceConfig.defaultPatterns)])
        #expect(c.process == ProcessSettings())
        #expect(c.httpAddress == "127.0.0.1:8736" && c.workers == 1 && c.quietPeriod == 10)
        // The shipped file spells out every default, so an operator reads what the daemon does.
        var defaults = ServiceConfig()
        defaults.watch = c.watch
        defaults.model = c.model
        #expect(c == defaults)
    }

    /// Retention deletes under `output`; the watcher reads under `watch`: no overlap that would make either destroy
    /// or re-read the daemon's own files passes (issue 14 §5), with the keys named.
    @Test(arguments: [
        ("watch: [/d/cam]\noutput: /d/out\nstate: /d/out/state\nmodel: /d/m.st", "'output', 'state'"),
        ("watch: [/d/cam]\noutput: /d/out\nstate: /d/out\nmodel: /d/m.st", "'output', 'state'"),
        ("watch: [/d/cam]\noutput: /d/state/out\nstate: /d/state\nmodel: /d/m.st", "'output', 'state'"),
        ("watch: [/d/cam]\noutput: /d/out\nstate: /d/state\nmodel: /d/out/models/m.st", "'output', 'model'"),
        ("watch: [/d/out/cam]\noutput: /d/out\nstate: /d/state\nmodel: /d/m.st", "'output', 'watch[0]'"),
        ("watch: [/d/a, /d/out]\noutput: /d/out\nstate: /d/state\nmodel: /d/m.st", "'output', 'watch[1]'"),
        ("watch: [/d/cam]\noutput: /d/cam/out\nstate: /d/state\nmodel: /d/m.st", "'output', 'watch[0]'"),
        ("watch: [/d/state/cam]\noutput: /d/out\nstate: /d/state\nmodel: /d/m.st", "'state', 'watch[0]'"),
        ("watch: [/d/cam]\noutput: /d/x/../out\nstate: /d/out/./s\nmodel: /d/m.st", "'output', 'state'"),
    ])
    func overlappingFoldersAreRefused(yaml: String, keys: String) {
        let e = error(yaml)
        #expect(e.contains(keys), "\(e)")
    }

    @Test func aSymlinkCannotHideAnOverlap() throws {
        let dir = NSTemporaryDirectory() + "snna-overlap-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir + "/out", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: dir + "/alias", withDestinationPath: dir + "/out")
        let e = error("watch: [/d/cam]\noutput: \(dir)/out\nstate: \(dir)/alias/state\nmodel: /d/m.st")
        #expect(e.contains("'output', 'state'"), "\(e)")
        #expect(error("watch: [/d/cam]\noutput: \(dir)/out\nstate: \(dir)/state\nmodel: /d/m.st") == "parsed")
    }

    @Test func numbersAreDecimalOnlyNeverBase60() {
        #expect(error(minimal + "\nworkers: 1:30").contains("'workers'"))
        #expect(error(minimal + "\nworkers: \(Array(repeating: "1", count: 25).joined(separator: ":"))").contains("'workers'"))
        #expect(error(minimal + "\nquiet_period: 1:30.5").contains("'quiet_period'"))
        #expect(error(minimal + "\nquiet_period: .inf").contains("'quiet_period'"))
        #expect(error(minimal + "\nworkers: 1_0") == "parsed")
        #expect(error(minimal + "\nquiet_period: 1e1") == "parsed")
    }

    @Test func hardeningKeysAreCheckedAndDeleteInputsIsGone() {
        #expect(error(minimal + "\nstall_timeout: 1") .contains("'stall_timeout'"))
        #expect(error(minimal + "\nworker_memory_mb: 10").contains("'worker_memory_mb'"))
        #expect(error(minimal + "\nworker_memory_mb: null") == "parsed")
        #expect(error(minimal + "\nmin_free_gb: -1").contains("'min_free_gb'"))
        #expect(error(minimal + "\nrescan_interval: 0.5").contains("'rescan_interval'"))
        #expect(error(minimal + "\nretry_backoff: 10\nretry_backoff_max: 5").contains("'retry_backoff_max'"))
        #expect(error(minimal + "\nhttp: {max_connections: 0}").contains("'http.max_connections'"))
        #expect(error(minimal + "\nretention: {delete_inputs: true}").contains("was removed"))
        #expect(error(minimal + "\nprocess: {max_frame_pixels: 10}").contains("max frame pixels"))
        #expect(error(minimal, env: ["SNNA_MIN_FREE_GB": "abc"]).contains("SNNA_MIN_FREE_GB"))
    }

    @Test func effectiveConfigurationRoundTripsThroughThePrinter() throws {
        var yaml = minimal + "\nprocess: {explain_stride: 7, method: attin, samples: 5}\nthresholds: {slow_down: 0.3}\n"
        yaml += "retention: {max_age_days: 30}\nlog: {format: json}\n"
        let c = try ConfigLoader.parse(yaml, source: "t", environment: [:])
        #expect(c.process.explainStride == 7 && c.process.method == .normatt && c.process.samples == 5)
        #expect(c.process.thresholds == ["slow_down": 0.3] && c.retention.maxAgeDays == 30 && c.logFormat == "json")
        let again = try ConfigLoader.parse(ConfigPrinter.render(c), source: "printed", environment: [:])
        #expect(again == c)
    }

    @Test func errorsNameTheKeyAndTheLine() {
        #expect(error(minimal + "\nprocess:\n  explian_stride: 3\n").contains("'process.explian_stride', line 6: unknown key"))
        #expect(error(minimal + "\nprocess:\n  explain_stride: lots\n").contains("'process.explain_stride', line 6: expected an integer, got 'lots'"))
        #expect(error(minimal + "\nworkers: 0\n").contains("'workers': must be in 1…64"))
        #expect(error(minimal + "\nprocess: {method: magic}\n").contains("unknown method 'magic'"))
        #expect(error(minimal + "\nhttp: {address: nowhere}\n").contains("'http.address'"))
        #expect(error("watch: [relative/path]\noutput: /o\nstate: /s\nmodel: /m\n").contains("must be an absolute path"))
        #expect(error("output: /o\nstate: /s\nmodel: /m\n").contains("'watch': at least one watch folder"))
        #expect(error("watch: [/data]\noutput: /data/out\nstate: /s\nmodel: /m\n").contains("inside the watch folder"))
        #expect(error("watch: [/data\n").contains("not valid YAML") && error("watch: [/data\n").contains("line"))
        #expect(error(minimal + "\nthresholds: {stop: 2}\n").contains("'thresholds.stop'"))
    }

    @Test func environmentVariablesOverrideKeysWithTheSameChecks() throws {
        let c = try ConfigLoader.parse(minimal, source: "t", environment: [
            "SNNA_PROCESS_EXPLAIN_STRIDE": "5", "SNNA_HTTP_ADDRESS": "0.0.0.0:9000", "SNNA_WATCH": "/a:/b",
            "SNNA_PROCESS_VIDEO": "false", "SNNA_BINARY": "/ignored", "SNNA_RETENTION_MAX_TOTAL_GB": "12.5",
        ])
        #expect(c.process.explainStride == 5 && c.httpAddress == "0.0.0.0:9000" && !c.process.writeVideo)
        #expect(c.watch.map(\.path) == ["/a", "/b"] && c.retention.maxTotalGB == 12.5)
        let e = error(minimal, env: ["SNNA_PROCESS_EXPLAIN_STRIDE": "often"])
        #expect(e.contains("SNNA_PROCESS_EXPLAIN_STRIDE") && e.contains("expected an integer"), "\(e)")
    }
}
