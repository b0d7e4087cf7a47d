/// The figures of an evaluation (report.json), in percent where accuracies are concerned.
public struct EvaluationResults: Codable, Sendable {
    public struct MaskResults: Codable, Sendable {
        /// Fractions removed at each level (the clean level 0 is `cleanAccuracy`).
        public var levels: [Double]
        public var accuracyRule: String
        public var resize: String
        /// Ā₀: mean multi-label accuracy of the unperturbed inputs, %.
        public var cleanAccuracy: Double
        /// Per method, Ā_k: mean accuracy at each level, %.
        public var curves: [String: [Double]]
        /// Σ_k Ā_k over the levels (higher: the removed regions mattered less).
        public var aupc: [String: Double]
        /// Σ_k ln(Ā_k / Ā₀) (more negative: removing the top-ranked regions hurt more); null when some Ā_k is 0
        /// or Ā₀ is 0.
        public var logOdd: [String: Double?]
    }

    public struct LocalisationMeans: Codable, Sendable {
        public var pointingGame: Double
        public var energyInside: Double
        /// IoU of the top `iouTopFraction` of the pixels with the region.
        public var iouTop: Double
    }

    public struct Localisation: Codable, Sendable {
        /// Samples whose explained (argmax) label had a ground-truth region.
        public var samples: Int
        /// Samples with ground truth but no region for the explained label (the model's top action is not a
        /// labelled one), left out.
        public var samplesWithoutRegion: Int
        /// Mean fraction of the picture the regions cover: what a uniform or random map scores on the energy share
        /// and, in expectation, on the pointing game.
        public var meanRegionArea: Double
        public var iouTopFraction: Double
        public var methods: [String: LocalisationMeans]
        /// The same, per explained label: what "decisive" means differs by action (a braking car, a bend, the free
        /// lane ahead), and so does how well a map can point at it.
        public var byLabel: [String: LabelLocalisation]
    }

    public struct LabelLocalisation: Codable, Sendable {
        public var samples: Int
        public var meanRegionArea: Double
        public var methods: [String: LocalisationMeans]
    }

    public var evaluationProtocol = "paper"
    public var samples = 0
    public var accuracyReference = "labels"
    public var methods: [String] = []
    public var masks: [String] = []
    public var perturbation: [String: MaskResults] = [:]
    public var localisation: Localisation?

    public init() {}
}
