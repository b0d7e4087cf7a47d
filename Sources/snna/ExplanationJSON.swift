import Foundation
import SNNAAttribution
import SNNAModel

/// The `snna explain --json` document (schema in docs/explain-json.md).
struct ExplanationJSON: Encodable {
    struct ModelInfo: Encodable {
        let name: String?
        let provenance: String?
    }
    struct Options: Encodable {
        let samples: [String: Int]
        let steps: Int
        let sigma_fraction: Float
        let value_norm: String
    }
    let model: ModelInfo
    let image: String
    let input_size: [Int]
    let grid: [Int]
    let labels: [String]
    let logits: [Float]
    let probabilities: [Float]
    let target: Int
    let target_label: String
    let seed: UInt64
    let options: Options
    let methods: [String: [Float]]

    static func encode(_ r: ExplanationResult, model c: ViTConfig, image: String, options o: ExplanationOptions) throws -> Data {
        var samples: [String: Int] = [:]
        for (m, _) in r.maps where m.usesNoise { samples[m.rawValue] = o.samples(for: m) }
        let doc = ExplanationJSON(
            model: ModelInfo(name: c.name, provenance: c.provenance), image: image,
            input_size: [r.inputHeight, r.inputWidth], grid: [r.gridRows, r.gridCols], labels: c.labels,
            logits: r.logits, probabilities: r.probabilities, target: r.target, target_label: c.labels[r.target],
            seed: r.seed,
            options: Options(samples: samples, steps: o.steps, sigma_fraction: o.sigmaFraction, value_norm: o.valueNorm.rawValue),
            methods: Dictionary(uniqueKeysWithValues: r.maps.map { ($0.method.rawValue, $0.values) }))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        var data = try encoder.encode(doc)
        data.append(0x0A)
        return data
    }
}
