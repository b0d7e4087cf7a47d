import Testing
import SNNAKernels
@testable import SNNAModel

/// The evaluation forwards (token mask: patch embeddings zeroed before the positions; attention mask: rows and
/// columns of one layer's post-softmax attention zeroed, no renormalisation) against the plain Double reference,
/// batched with different perturbations per image (so a perturbation leaking to another image of the batch fails).
@Suite struct MaskedForwardTests {
    @Test(arguments: EngineAgreementTests.cases)
    func perturbedLogitsAgreeWithThePlainReference(_ c: EngineAgreementTests.Case) throws {
        let p = c.model.config.patchSize
        let image = c.image.croppedTopLeft(height: c.image.height / p * p, width: c.image.width / p * p)
        let patches = (image.height / p) * (image.width / p)
        let lastLayer = c.model.config.depth - 1
        let perturbations = [
            ForwardPerturbation(zeroedPatches: [0, patches - 1]),
            ForwardPerturbation.none,
            ForwardPerturbation(attentionMaskedTokens: [1, 3]),
            ForwardPerturbation(zeroedPatches: [1], attentionMaskedTokens: [2], attentionMaskLayer: lastLayer),
            ForwardPerturbation(attentionMaskedTokens: [0], attentionMaskLayer: 0),
        ]
        let engine = try ViTEngine(model: c.model, attentionTileRows: 3)
        let fast = try engine.predict([ImageTensor](repeating: image, count: perturbations.count), perturbations: perturbations)
        let clean = PlainReference.forward(model: c.model, image: image).logits
        for (k, perturbation) in perturbations.enumerated() {
            let reference = PlainReference.forward(
                model: c.model, image: image, zeroedPatches: Set(perturbation.zeroedPatches),
                attentionMask: perturbation.attentionMaskedTokens.isEmpty
                    ? nil : (perturbation.attentionMaskLayer, Set(perturbation.attentionMaskedTokens))).logits
            for (a, b) in zip(fast[k], reference) {
                #expect(abs(Double(a) - b) <= 1e-4 * max(1, abs(b)), "perturbation \(k): \(a) vs \(b)")
            }
            if perturbation != .none {
                let change = zip(reference, clean).map { abs($0 - $1) }.max()!
                #expect(change > 1e-3, "perturbation \(k) changes nothing: the comparison would prove nothing")
            }
        }
    }

    @Test func outOfRangeIndicesAreRefused() throws {
        let c = EngineAgreementTests.cases[0]
        let engine = try ViTEngine(model: c.model)
        #expect(throws: EngineError.self) { try engine.predict([c.image], perturbations: [ForwardPerturbation(zeroedPatches: [15])]) }
        #expect(throws: EngineError.self) { try engine.predict([c.image], perturbations: [ForwardPerturbation(attentionMaskedTokens: [16])]) }
        #expect(throws: EngineError.self) {
            try engine.predict([c.image], perturbations: [ForwardPerturbation(attentionMaskedTokens: [1], attentionMaskLayer: 3)])
        }
    }
}
