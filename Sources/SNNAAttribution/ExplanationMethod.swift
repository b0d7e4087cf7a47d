import Foundation
import SNNAModel

/// The explanation methods of reference §4, by their command-line names.
public enum ExplanationMethod: String, Sendable, CaseIterable, Codable {
    /// §4.1 mean-head last-layer attention of CLS.
    case rawatt
    /// §4.2 attention rollout.
    case rollout
    /// §4.3 sum over layers of the attention gradient.
    case gradient
    /// §4.4 sum over layers of relu(A ⊙ G) (the code's att_gradient).
    case attgrad
    /// §4.5 Chefer's generic attention explanation.
    case genericatt
    /// §4.6 gradient-weighted value-norm rollout (the paper's "AttIN" column).
    case normatt
    /// §4.7 last-layer attention gradients averaged over α-scaled inputs, times the GenericAtt chain.
    case attig
    /// §4.8 the code's SGradient: noisy last-layer gradients times the GenericAtt chain.
    case smoothgrad
    /// §4.9 Smooth Noise Norm Attention.
    case snna

    /// The row vectors of the clean backward this method reads.
    var reductions: AttentionReductions {
        switch self {
        case .rawatt: return .rawAttention
        case .rollout: return .rollout
        case .gradient: return .gradientSum
        case .attgrad: return .attentionGradientSum
        case .genericatt, .attig, .smoothgrad: return .genericChain
        case .normatt, .snna: return .normChain
        }
    }

    /// Whether the map depends on the random noise seed.
    public var usesNoise: Bool { self == .smoothgrad || self == .snna }

    /// The authors' default number of noise samples (§4.8: 25, §4.9: 3).
    public var defaultSamples: Int? {
        switch self {
        case .smoothgrad: return 25
        case .snna: return 3
        default: return nil
        }
    }

    /// Parses a name, case-insensitively; accepts the authors' function names too.
    public init?(name: String) {
        let key = name.lowercased().replacingOccurrences(of: "_", with: "").replacingOccurrences(of: "-", with: "")
        let aliases: [String: ExplanationMethod] = [
            "rawattn": .rawatt, "attgradient": .attgrad, "genericattention": .genericatt, "attin": .normatt,
            "igradient": .attig, "sgradient": .smoothgrad, "sgradientnormatt": .snna,
        ]
        if let m = ExplanationMethod(rawValue: key) ?? aliases[key] { self = m } else { return nil }
    }
}
