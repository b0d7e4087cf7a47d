import SNNAKernels

/// One picture or frame to evaluate, already prepared as the model sees it.
public struct EvaluationSample: Sendable {
    public var name: String
    /// The normalized model input, cropped to a multiple of the patch size (Pillow bicubic resize).
    public var input: ImageTensor
    /// The same picture resized with Pillow's bilinear filter, for the reference-quirks token and attention
    /// evaluations; nil when the protocol does not need it.
    public var bilinearInput: ImageTensor?
    /// Ground-truth 0/1 labels in the model's label order; nil: the clean prediction is the reference.
    public var labels: [Float]?
    /// Ground-truth decisive regions at the input's resolution (row-major H×W, true inside), per label index.
    public var regions: [Int: [Bool]]

    public init(name: String, input: ImageTensor, bilinearInput: ImageTensor? = nil, labels: [Float]? = nil,
                regions: [Int: [Bool]] = [:]) {
        self.name = name
        self.input = input
        self.bilinearInput = bilinearInput
        self.labels = labels
        self.regions = regions
    }
}
