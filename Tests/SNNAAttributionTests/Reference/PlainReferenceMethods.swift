// The explanation methods of reference §4, computed the slow way the authors' code does: full N×N matrices and
// full matrix chains, then the CLS row with the CLS column dropped. Independent of the fast engine.

import Foundation
import SNNAKernels
@testable import SNNAModel

extension PlainReference {
    /// Clean forward, the target class (argmax of the clean logits unless given, §4.0) and Gˡ for every layer.
    struct CleanPass {
        var forward: PlainForward
        var classIndex: Int
        var gradients: [[[[Double]]]]
    }

    static func cleanPass(model: ViTModel, image: ImageTensor, classIndex: Int?) -> CleanPass {
        let fwd = forward(model: model, image: image)
        let c = classIndex ?? argmax(fwd.logits)
        return CleanPass(forward: fwd, classIndex: c, gradients: attentionGradients(model: model, forward: fwd, classIndex: c))
    }

    /// M[0, 1...] as a flat array of length rows·cols.
    static func clsRow(_ m: Mat) -> [Double] { Array(m[0][1...]) }

    static func headMean(_ perHead: [Mat], _ f: (Int, Int, Int) -> Double) -> Mat {
        let heads = perHead.count, n = perHead[0].count
        var out = Mat(repeating: [Double](repeating: 0, count: n), count: n)
        for h in 0..<heads { for i in 0..<n { for j in 0..<n { out[i][j] += f(h, i, j) } } }
        for i in 0..<n { for j in 0..<n { out[i][j] /= Double(heads) } }
        return out
    }

    static func hadamard(_ a: Mat, _ b: Mat) -> Mat {
        a.indices.map { i in a[i].indices.map { j in a[i][j] * b[i][j] } }
    }

    /// σ = 0.15·(max x − min x) over every entry of the normalized tensor (§4.9 step 5).
    static func noiseSigma(image: ImageTensor) -> Double {
        let xs = image.data.map(Double.init)
        return 0.15 * (xs.max()! - xs.min()!)
    }

    // MARK: §4.1 RawAtt

    static func rawAtt(model: ViTModel, image: ImageTensor, classIndex: Int? = nil) -> [Double] {
        let fwd = forward(model: model, image: image)
        let last = fwd.attention[fwd.attention.count - 1]
        return clsRow(headMean(last) { h, i, j in last[h][i][j] })
    }

    // MARK: §4.2 Rollout

    /// Âˡ = (Āˡ + I) / rowsum(Āˡ + I), or (Āˡ + I)/2 when `divideByTwo` (§7.3 S6).
    static func rolloutLayerMatrices(forward fwd: PlainForward, divideByTwo: Bool = false) -> [Mat] {
        fwd.attention.map { att in
            var m = headMean(att) { h, i, j in att[h][i][j] }
            for i in m.indices { m[i][i] += 1 }
            for i in m.indices {
                let s = divideByTwo ? 2.0 : m[i].reduce(0, +)
                for j in m[i].indices { m[i][j] /= s }
            }
            return m
        }
    }

    /// J = Â^L ⋯ Â¹ (later layers on the left), full N×N.
    static func rolloutMatrix(forward fwd: PlainForward, divideByTwo: Bool = false) -> Mat {
        var j = identity(fwd.tokens)
        for a in rolloutLayerMatrices(forward: fwd, divideByTwo: divideByTwo) { j = matmul(a, j) }
        return j
    }

    static func rollout(model: ViTModel, image: ImageTensor, classIndex: Int? = nil, divideByTwo: Bool = false) -> [Double] {
        clsRow(rolloutMatrix(forward: forward(model: model, image: image), divideByTwo: divideByTwo))
    }

    // MARK: §4.3 Gradient

    static func gradient(model: ViTModel, image: ImageTensor, classIndex: Int? = nil) -> [Double] {
        let pass = cleanPass(model: model, image: image, classIndex: classIndex)
        var sum: Mat? = nil
        for g in pass.gradients {
            let m = headMean(g) { h, i, j in g[h][i][j] }
            sum = sum.map { s in s.indices.map { i in s[i].indices.map { j in s[i][j] + m[i][j] } } } ?? m
        }
        return clsRow(sum!)
    }

    // MARK: §4.4 AttGrad

    /// camˡ = mean_h relu(Aˡ ⊙ Gˡ), full N×N.
    static func attGradCams(pass: CleanPass) -> [Mat] {
        pass.forward.attention.indices.map { l in
            let a = pass.forward.attention[l], g = pass.gradients[l]
            return headMean(a) { h, i, j in relu(a[h][i][j] * g[h][i][j]) }
        }
    }

    static func attGrad(model: ViTModel, image: ImageTensor, classIndex: Int? = nil) -> [Double] {
        let cams = attGradCams(pass: cleanPass(model: model, image: image, classIndex: classIndex))
        var sum = cams[0]
        for cam in cams.dropFirst() { sum = sum.indices.map { i in sum[i].indices.map { j in sum[i][j] + cam[i][j] } } }
        return clsRow(sum)
    }

    // MARK: §4.5 GenericAtt

    /// R = I; for l = 1..L: R ← R + camˡ·R.
    static func genericAttMatrix(pass: CleanPass) -> Mat {
        var r = identity(pass.forward.tokens)
        for cam in attGradCams(pass: pass) {
            let cr = matmul(cam, r)
            r = r.indices.map { i in r[i].indices.map { j in r[i][j] + cr[i][j] } }
        }
        return r
    }

    static func genericAtt(model: ViTModel, image: ImageTensor, classIndex: Int? = nil) -> [Double] {
        clsRow(genericAttMatrix(pass: cleanPass(model: model, image: image, classIndex: classIndex)))
    }

    // MARK: §4.6 NormAtt

    /// camˡ = mean_h relu(Wˡ ⊙ Gˡ) + I with Wˡ = Aˡ scaled by ν̂ per row (code) or per column (paper).
    static func normAttCams(model: ViTModel, pass: CleanPass, valueNorm: ValueNorm) -> [Mat] {
        let nu = valueNorms(model: model, forward: pass.forward)
        return pass.forward.attention.indices.map { l in
            let a = pass.forward.attention[l], g = pass.gradients[l]
            var cam = headMean(a) { h, i, j in
                let weighted = a[h][i][j] * (valueNorm == .row ? nu[l][h][i] : nu[l][h][j])
                return relu(weighted * g[h][i][j])
            }
            for i in cam.indices { cam[i][i] += 1 }
            return cam
        }
    }

    /// R = cam^L ⋯ cam¹ (R ← camˡ·R for l = 1..L).
    static func normAttMatrix(model: ViTModel, pass: CleanPass, valueNorm: ValueNorm) -> Mat {
        var r = identity(pass.forward.tokens)
        for cam in normAttCams(model: model, pass: pass, valueNorm: valueNorm) { r = matmul(cam, r) }
        return r
    }

    static func normAtt(model: ViTModel, image: ImageTensor, classIndex: Int? = nil,
                        valueNorm: ValueNorm = .row) -> [Double] {
        clsRow(normAttMatrix(model: model, pass: cleanPass(model: model, image: image, classIndex: classIndex),
                             valueNorm: valueNorm))
    }

    // MARK: §4.7–4.9 smoothed last-layer masks

    /// Wm = mean_h relu((1/m) Σ_samples G^L(sample)), full N×N.
    static func smoothedMask(model: ViTModel, image: ImageTensor, classIndex c: Int,
                             samples: [(scale: Double, noise: [Float]?)]) -> Mat {
        precondition(!samples.isEmpty)
        var s: [Mat]? = nil
        for sample in samples {
            let g = attentionGradients(model: model, image: image, classIndex: c, scaleInput: sample.scale,
                                       addNoise: sample.noise)
            let last = g[g.count - 1]
            s = s.map { acc in acc.indices.map { h in acc[h].indices.map { i in acc[h][i].indices.map { j in
                acc[h][i][j] + last[h][i][j] } } } } ?? last
        }
        let m = Double(samples.count)
        let mean = s!.map { $0.map { $0.map { $0 / m } } }
        return headMean(mean) { h, i, j in relu(mean[h][i][j]) }
    }

    /// α ∈ linspace(0, 1, steps), both ends included.
    static func linspace01(_ steps: Int) -> [Double] {
        precondition(steps >= 1)
        if steps == 1 { return [0] }
        return (0..<steps).map { Double($0) / Double(steps - 1) }
    }

    static func attIG(model: ViTModel, image: ImageTensor, classIndex: Int? = nil, steps: Int = 20) -> [Double] {
        let pass = cleanPass(model: model, image: image, classIndex: classIndex)
        let r = genericAttMatrix(pass: pass)
        let wm = smoothedMask(model: model, image: image, classIndex: pass.classIndex,
                              samples: linspace01(steps).map { (scale: $0, noise: nil) })
        return clsRow(hadamard(wm, r))
    }

    static func smoothGrad(model: ViTModel, image: ImageTensor, classIndex: Int? = nil, noises: [[Float]]) -> [Double] {
        let pass = cleanPass(model: model, image: image, classIndex: classIndex)
        let r = genericAttMatrix(pass: pass)
        let wm = smoothedMask(model: model, image: image, classIndex: pass.classIndex,
                              samples: noises.map { (scale: 1.0, noise: $0) })
        return clsRow(hadamard(wm, r))
    }

    static func snna(model: ViTModel, image: ImageTensor, classIndex: Int? = nil, noises: [[Float]],
                     valueNorm: ValueNorm = .row) -> [Double] {
        let pass = cleanPass(model: model, image: image, classIndex: classIndex)
        let r = normAttMatrix(model: model, pass: pass, valueNorm: valueNorm)
        let wm = smoothedMask(model: model, image: image, classIndex: pass.classIndex,
                              samples: noises.map { (scale: 1.0, noise: $0) })
        return clsRow(hadamard(wm, r))
    }
}
