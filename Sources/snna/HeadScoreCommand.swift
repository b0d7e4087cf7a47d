import ArgumentParser
import Foundation
import SNNAEvaluation
import SNNAModel
import SNNAModelImport

extension HeadCommand {
    struct Score: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Measure a model's multi-label accuracy on a labelled folder (e.g. freshly rendered held-out scenes).",
            discussion: "Prints the mean multi-label accuracy and the accuracy of each label, by the sigmoid rule and by the authors' rule; --json writes them.")

        @Option(help: "Model to score.") var model: String
        @Option(help: "Folder of images.") var images: String
        @Option(help: "Labels file (JSON or CSV, as for `head fit`).") var labels: String
        @Option(help: "Cache file of backbone features (shared with `head fit`).") var featureCache: String?
        @Option(help: "Also write the figures as JSON to this file.") var json: String?

        func run() throws {
            try reportingErrors {
                if let json { try checkOutputFile(json, option: "--json") }
                let vit = try ModelFile.load(path: model)
                let engine = try ViTEngine(model: vit)
                let table = try LabelsFile.read(labels, labels: vit.config.labels, pictures: images)
                let names = table.keys.sorted()
                guard !names.isEmpty else { throw CLIError("labels file '\(labels)' lists no images") }
                var features = try HeadFeatures(engine: engine, model: vit, folder: images, cachePath: featureCache)
                let x = try features.rows(names, flip: false, what: "pictures")
                try features.save()
                let w = vit.weights.head
                let z = HeadFitter.logits(x, weight: w.weight.data, bias: w.bias)
                let y = names.map { table[$0]! }
                print("\(names.count) images, model '\(vit.config.name ?? "unnamed")'")
                print(HeadReport.accuracyLines(logits: z, labels: y, names: vit.config.labels, indent: "  "))
                if let json {
                    try writeOutput(HeadReport.json(logits: z, labels: y, names: vit.config.labels, images: names.count),
                                    to: json, option: "--json")
                }
            }
        }
    }
}

/// Accuracy figures of a head, as text and JSON.
enum HeadReport {
    static func accuracyLines(logits: [[Float]], labels: [[Float]], names: [String], indent: String) -> String {
        HeadFitter.AccuracyRule.allCases.map { rule in
            let perLabel = HeadFitter.labelAccuracy(logits: logits, labels: labels, rule: rule)
            let exact = exactMatch(logits: logits, labels: labels, rule: rule)
            return indent + String(format: "%@: accuracy %.1f %% (exact match %.1f %%); ", rule.title,
                                   100 * HeadFitter.accuracy(logits: logits, labels: labels, rule: rule), 100 * exact)
                + zip(names, perLabel).map { String(format: "%@ %.1f %%", $0, 100 * $1) }.joined(separator: ", ")
        }.joined(separator: "\n")
    }

    static func exactMatch(logits: [[Float]], labels: [[Float]], rule: HeadFitter.AccuracyRule) -> Double {
        guard !logits.isEmpty else { return 0 }
        let hits = zip(logits, labels).filter { z, y in
            zip(z, y).allSatisfy { (rule == .sigmoid ? $0 >= 0 : $0 > 0.5) == ($1 >= 0.5) }
        }.count
        return Double(hits) / Double(logits.count)
    }

    static func json(logits: [[Float]], labels: [[Float]], names: [String], images: Int) throws -> Data {
        var object: [String: Any] = ["images": images, "labels": names]
        for rule in HeadFitter.AccuracyRule.allCases {
            object[rule.rawValue] = [
                "accuracy": HeadFitter.accuracy(logits: logits, labels: labels, rule: rule),
                "exact_match": exactMatch(logits: logits, labels: labels, rule: rule),
                "per_label": Dictionary(uniqueKeysWithValues: zip(names, HeadFitter.labelAccuracy(logits: logits, labels: labels, rule: rule))),
            ] as [String: Any]
        }
        return try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
    }
}

extension HeadFitter.AccuracyRule: CaseIterable {
    public static var allCases: [HeadFitter.AccuracyRule] { [.sigmoid, .authors] }
    var title: String { self == .sigmoid ? "sigmoid rule (p ≥ 0.5)" : "authors' rule (logit > 0.5)" }
}
