import Testing
import SNNAKernels
@testable import SNNAAttribution
@testable import SNNAModel

/// Behaviour of the Explainer that the reference comparison does not cover: seeds, options, and errors.
@Suite struct ExplainerTests {
    let model = RandomModel.make(patchSize: 4, dim: 16, depth: 3, numHeads: 2, numClasses: 4, gridSize: 3, seed: 41)
    let image = EngineAgreementTests.image(16, 24, seed: 8)

    func explain(_ methods: [ExplanationMethod], _ options: ExplanationOptions) throws -> ExplanationResult {
        try Explainer(engine: try ViTEngine(model: model)).explain(image, methods: methods, options: options)
    }

    @Test func seedsMakeNoisyMethodsReproducible() throws {
        let a = try explain([.snna, .smoothgrad, .normatt], ExplanationOptions(seed: 1))
        let b = try explain([.snna, .smoothgrad, .normatt], ExplanationOptions(seed: 1))
        let c = try explain([.snna, .smoothgrad, .normatt], ExplanationOptions(seed: 2))
        #expect(a.map(.snna) == b.map(.snna) && a.map(.smoothgrad) == b.map(.smoothgrad))
        #expect(a.map(.snna) != c.map(.snna))
        #expect(a.map(.normatt) == c.map(.normatt))
        #expect(a.seed == 1 && c.seed == 2)
        // A method's noise does not depend on which other methods share the call.
        let alone = try explain([.snna], ExplanationOptions(seed: 1))
        #expect(alone.map(.snna) == a.map(.snna))
    }

    @Test func zeroNoiseMakesSNNADeterministicAndEqualToNormAttTimesTheCleanMask() throws {
        let a = try explain([.snna, .normatt], ExplanationOptions(sigmaFraction: 0, seed: 1))
        let b = try explain([.snna], ExplanationOptions(sigmaFraction: 0, seed: 99))
        #expect(a.map(.snna) == b.map(.snna))
        let engine = try ViTEngine(model: model)
        let clean = try engine.lastLayerGradient(image, target: a.target).gradient
        let mask = Attribution.smoothedLastLayerMask([clean], heads: 2, tokens: clean.count / 2)
        let expected = zip(a.map(.normatt)!, mask.dropFirst()).map { $0 * $1 }
        for (x, y) in zip(a.map(.snna)!, expected) { #expect(abs(x - y) <= 1e-6 * max(1, abs(y))) }
        #expect(expected.contains { $0 != 0 })
    }

    @Test func moreSamplesChangeTheMap() throws {
        let three = try explain([.snna], ExplanationOptions(seed: 3))
        let five = try explain([.snna], ExplanationOptions(samples: 5, seed: 3))
        #expect(three.map(.snna) != five.map(.snna))
        #expect(three.map(.snna)!.count == three.gridRows * three.gridCols)
    }

    @Test func classAgnosticMethodsIgnoreTheTarget() throws {
        let a = try explain([.rawatt, .rollout, .genericatt], ExplanationOptions(target: 0))
        let b = try explain([.rawatt, .rollout, .genericatt], ExplanationOptions(target: 3))
        #expect(a.map(.rawatt) == b.map(.rawatt) && a.map(.rollout) == b.map(.rollout))
        #expect(a.map(.genericatt) != b.map(.genericatt))
    }

    @Test func badOptionsAreRefused() throws {
        #expect(throws: EngineError.self) { try explain([.snna], ExplanationOptions(target: 4)) }
        #expect(throws: EngineError.self) { try explain([.snna], ExplanationOptions(samples: 0)) }
        #expect(throws: EngineError.self) { try explain([.attig], ExplanationOptions(steps: 0)) }
        #expect(throws: EngineError.self) { try explain([.snna], ExplanationOptions(sigmaFraction: .nan)) }
    }

    @Test func methodNamesIncludeTheAuthorsFunctionNames() {
        #expect(ExplanationMethod(name: "SNNA") == .snna)
        #expect(ExplanationMethod(name: "norm_att") == .normatt)
        #expect(ExplanationMethod(name: "AttIN") == .normatt)
        #expect(ExplanationMethod(name: "IGradient") == .attig)
        #expect(ExplanationMethod(name: "SGradient") == .smoothgrad)
        #expect(ExplanationMethod(name: "rawAttn") == .rawatt)
        #expect(ExplanationMethod(name: "nope") == nil)
        #expect(Attribution.integrationSteps(20).count == 20)
        #expect(Attribution.integrationSteps(20).first == 0 && Attribution.integrationSteps(20).last == 1)
    }
}

extension ExplainerTests {
    /// Asked alone, RawAtt and Rollout skip the gradient work (attention-only pass) and must equal the maps of a run
    /// that does the full backward.
    @Test func attentionOnlyPassEqualsTheFullBackward() throws {
        let alone = try explain([.rawatt, .rollout], ExplanationOptions(seed: 1))
        let full = try explain([.rawatt, .rollout, .genericatt], ExplanationOptions(seed: 1))
        #expect(alone.map(.rawatt) == full.map(.rawatt))
        for (a, b) in zip(alone.map(.rollout)!, full.map(.rollout)!) { #expect(abs(a - b) <= 1e-6 * max(abs(b), 1e-6)) }
    }

    @Test func hugeGridsAreRefusedBeforeAnyAllocation() throws {
        let engine = try ViTEngine(model: model)
        #expect(throws: EngineError.self) { try engine.checkGrid(height: 4 * 200, width: 4 * 100) }
        try engine.checkGrid(height: 4 * 128, width: 4 * 128)
        #expect(throws: EngineError.self) { try engine.checkGrid(height: 3, width: 100) }
    }
}

extension ExplainerTests {
    /// Tiling the attention (forward and backward) changes only the float summation order.
    @Test func attentionTileSizeDoesNotChangeTheMaps() throws {
        let methods: [ExplanationMethod] = [.rawatt, .rollout, .gradient, .attgrad, .genericatt, .normatt, .snna]
        let reference = try Explainer(engine: try ViTEngine(model: model)).explain(image, methods: methods,
                                                                                   options: ExplanationOptions(seed: 4))
        for tile in [1, 2, 7] {
            let tiled = try Explainer(engine: try ViTEngine(model: model, attentionTileRows: tile))
                .explain(image, methods: methods, options: ExplanationOptions(seed: 4))
            for m in methods {
                let a = tiled.map(m)!, b = reference.map(m)!
                let scale = b.map(abs).max()!
                for (x, y) in zip(a, b) { #expect(abs(x - y) <= 1e-5 * scale, "\(m) tile \(tile)") }
            }
        }
    }
}
