import Foundation

/// Which protocol the perturbation tests follow (reference §5, project decision §9.6).
public enum EvaluationProtocol: String, Sendable, Codable, CaseIterable {
    /// The paper's stated protocol: channel-mean pixel replacement, exactly k pixels or tokens, levels up to 20 %
    /// for every mask, per-label sigmoid accuracy, Pillow bicubic resize everywhere.
    case paper
    /// What the authors' evaluation scripts actually do: pixel replacement value v = trunc(trunc(trunc(m_R)·m_G)·m_B)
    /// (0 for ordinary frames), pixels strictly above the k-th value, token levels to 10 %, the raw-logit > 0.5 rule
    /// for pixels and softmax > 0.5 for tokens and attention, Pillow bilinear resize for the token and attention
    /// evaluations.
    case referenceQuirks = "reference-quirks"
}

/// The three replacement schemes of reference §5.
public enum MaskKind: String, Sendable, Codable, CaseIterable {
    /// Pixels of the normalized input replaced by a constant per channel.
    case pixel
    /// Patch embeddings zeroed before the positional embedding is added.
    case token
    /// Rows and columns of block 1's post-softmax attention zeroed in every head.
    case attention
}

/// When one label counts as predicted.
public enum AccuracyRule: String, Sendable, Codable {
    /// sigmoid(logit) ≥ 0.5, i.e. logit ≥ 0 (the project's rule, paper protocol).
    case sigmoid
    /// raw logit > 0.5 (the authors' pixel-mask script and training code).
    case logitAboveHalf = "logit>0.5"
    /// softmax over the classes > 0.5, so at most one label is active (the authors' token and attention scripts).
    case softmaxAboveHalf = "softmax>0.5"

    public func active(_ logits: [Float]) -> [Bool] {
        switch self {
        case .sigmoid: return logits.map { $0 >= 0 }
        case .logitAboveHalf: return logits.map { $0 > 0.5 }
        case .softmaxAboveHalf:
            let m = logits.max() ?? 0
            let e = logits.map { exp(Double($0 - m)) }
            let sum = e.reduce(0, +)
            return e.map { $0 / sum > 0.5 }
        }
    }

    /// Multi-label accuracy of one sample in percent: 100 × (labels predicted right) / (labels).
    public func accuracy(_ logits: [Float], reference: [Bool]) -> Double {
        let predicted = active(logits)
        let right = zip(predicted, reference).filter { $0 == $1 }.count
        return 100 * Double(right) / Double(max(1, reference.count))
    }
}

/// Everything that decides the numbers of an evaluation.
public struct EvaluationSettings: Sendable, Codable {
    public var evaluationProtocol: EvaluationProtocol
    public var masks: [MaskKind]
    /// Fractions of the pixels or tokens removed, per mask kind (the clean level 0 is always measured too).
    public var levels: [MaskKind: [Double]]
    /// Fraction of the pixels the localisation IoU takes from the top of each map.
    public var iouTopFraction: Double
    /// How many perturbed inputs share one batched forward.
    public var batch: Int

    public init(evaluationProtocol: EvaluationProtocol = .paper, masks: [MaskKind] = MaskKind.allCases,
                levels: [Double]? = nil, iouTopFraction: Double = 0.1, batch: Int = 8) {
        self.evaluationProtocol = evaluationProtocol
        self.masks = masks
        var table: [MaskKind: [Double]] = [:]
        for kind in MaskKind.allCases { table[kind] = levels ?? EvaluationSettings.defaultLevels(kind, evaluationProtocol) }
        self.levels = table
        self.iouTopFraction = iouTopFraction
        self.batch = batch
    }

    /// numpy.linspace(0, top, 10)[1:], computed as numpy does (k · step, the last value exactly `top`), so that
    /// int(g · H · W) gives the scripts' counts to the pixel.
    public static func linspaceLevels(top: Double, count: Int = 10) -> [Double] {
        let step = top / Double(count - 1)
        return (1..<count).map { $0 == count - 1 ? top : Double($0) * step }
    }

    /// 2.2 %–20 % in 9 steps, except the authors' token script, which stops at 10 %.
    public static func defaultLevels(_ kind: MaskKind, _ p: EvaluationProtocol) -> [Double] {
        linspaceLevels(top: kind == .token && p == .referenceQuirks ? 0.1 : 0.2)
    }

    public func accuracyRule(_ kind: MaskKind) -> AccuracyRule {
        switch evaluationProtocol {
        case .paper: return .sigmoid
        case .referenceQuirks: return kind == .pixel ? .logitAboveHalf : .softmaxAboveHalf
        }
    }

    /// Whether this kind's input is resized with Pillow's bilinear filter instead of bicubic.
    public func usesBilinearResize(_ kind: MaskKind) -> Bool {
        evaluationProtocol == .referenceQuirks && kind != .pixel
    }

    /// How many pixels (of `pixels`) or tokens (of `tokens`) a level removes: int(g·H·W) for pixels as the pixel
    /// script truncates, round-half-even(g·N) for tokens as Python's round.
    public static func count(level g: Double, kind: MaskKind, pixels: Int, tokens: Int) -> Int {
        switch kind {
        case .pixel: return min(pixels, Int(g * Double(pixels)))
        case .token, .attention: return min(tokens, Int((g * Double(tokens)).rounded(.toNearestOrEven)))
        }
    }
}
