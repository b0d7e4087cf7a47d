import Foundation

/// report.md and the SVG charts of an evaluation.
public enum EvaluationReport {
    /// A Table-1-style table (methods × masks, AUPC and LogOdd), the curves as numbers, and the localisation table.
    /// `context` lines (model, data, seed, timing) go first.
    public static func markdown(_ r: EvaluationResults, title: String, context: [String]) -> String {
        var out = "# \(title)\n\n"
        for line in context { out += "- \(line)\n" }
        out += "- protocol: `\(r.evaluationProtocol)`; \(r.samples) samples; accuracy against \(r.accuracyReference)\n\n"
        let kinds = r.masks.filter { r.perturbation[$0] != nil }
        if !kinds.isEmpty {
            out += "## Faithfulness: AUPC and LogOdd\n\n"
            out += "AUPC = Σ_k Ā_k (mean multi-label accuracy in % at each level k; higher: the top-ranked regions mattered less). "
            out += "LogOdd = Σ_k ln(Ā_k / Ā₀) (lower: removing the top-ranked regions hurt more). A faithful map has a **low** AUPC and a **low** LogOdd.\n\n"
            out += "| method | " + kinds.map { "\($0) AUPC | \($0) LogOdd" }.joined(separator: " | ") + " |\n"
            out += "|---|" + String(repeating: "---:|", count: 2 * kinds.count) + "\n"
            for m in r.methods {
                var row = "| \(m) |"
                for k in kinds {
                    let mr = r.perturbation[k]!
                    let best = mr.aupc.values.min()
                    let aupc = mr.aupc[m] ?? 0
                    row += aupc == best ? String(format: " **%.1f** |", aupc) : String(format: " %.1f |", aupc)
                    if let lo = mr.logOdd[m] ?? nil {
                        let bestLog = mr.logOdd.values.compactMap { $0 }.min()
                        row += lo == bestLog ? String(format: " **%.3f** |", lo) : String(format: " %.3f |", lo)
                    } else {
                        row += mr.cleanAccuracy > 0 ? " −∞ |" : " n/a |"
                    }
                }
                out += row + "\n"
            }
            out += "\n"
            for k in kinds {
                let mr = r.perturbation[k]!
                out += "### \(k) mask — accuracy (%) by fraction removed\n\n"
                out += "Rule: \(mr.accuracyRule); resize: \(mr.resize); clean accuracy Ā₀ = " + String(format: "%.2f", mr.cleanAccuracy)
                out += " %. Chart: [curves-\(k).svg](curves-\(k).svg)\n\n"
                out += "| method | " + mr.levels.map { String(format: "%.1f %%", 100 * $0) }.joined(separator: " | ") + " |\n"
                out += "|---|" + String(repeating: "---:|", count: mr.levels.count) + "\n"
                for m in r.methods {
                    out += "| \(m) | " + (mr.curves[m] ?? []).map { String(format: "%.1f", $0) }.joined(separator: " | ") + " |\n"
                }
                out += "\n"
            }
        }
        if let loc = r.localisation {
            out += "## Localisation against the ground-truth decisive regions\n\n"
            out += "\(loc.samples) samples whose explained (argmax) action has a region"
            if loc.samplesWithoutRegion > 0 { out += "; \(loc.samplesWithoutRegion) without one left out" }
            out += String(format: ". Regions cover %.1f %% of the picture on average: a uniform map scores that on the energy share, and a random one about that on the pointing game.\n\n", 100 * loc.meanRegionArea)
            out += String(format: "| method | pointing game | energy inside | IoU of the top %.0f %% |\n|---|---:|---:|---:|\n", 100 * loc.iouTopFraction)
            let bestPointing = loc.methods.values.map(\.pointingGame).max()
            let bestEnergy = loc.methods.values.map(\.energyInside).max()
            let bestIoU = loc.methods.values.map(\.iouTop).max()
            func cell(_ v: Double, _ best: Double?) -> String {
                v == best ? String(format: " **%.3f** |", v) : String(format: " %.3f |", v)
            }
            for m in r.methods {
                guard let s = loc.methods[m] else { continue }
                out += "| \(m) |" + cell(s.pointingGame, bestPointing) + cell(s.energyInside, bestEnergy) + cell(s.iouTop, bestIoU) + "\n"
            }
            out += "\n"
            let labels = loc.byLabel.keys.sorted()
            if labels.count > 1 || (labels.count == 1 && loc.byLabel[labels[0]]!.samples != loc.samples) {
                out += "By explained action — pointing game / energy inside / IoU:\n\n"
                out += "| method | " + labels.map { l in
                    let g = loc.byLabel[l]!
                    return String(format: "%@ (%d, region %.0f %%)", l, g.samples, 100 * g.meanRegionArea)
                }.joined(separator: " | ") + " |\n"
                out += "|---|" + String(repeating: "---:|", count: labels.count) + "\n"
                for m in r.methods {
                    out += "| \(m) | " + labels.map { l in
                        let s = loc.byLabel[l]!.methods[m]!
                        return String(format: "%.2f / %.3f / %.3f", s.pointingGame, s.energyInside, s.iouTop)
                    }.joined(separator: " | ") + " |\n"
                }
                out += "\n"
            }
        }
        return out
    }

    private static let palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
                                  "#17becf", "#bcbd22", "#7f7f7f", "#000000"]

    /// One mask kind's curves: accuracy (%) against the fraction removed, the clean accuracy at 0, one line and
    /// marker shape per method, a legend, axes with ticks. Plain SVG 1.1, no scripts or external resources.
    public static func svg(_ r: EvaluationResults, kind: String) -> String? {
        guard let mr = r.perturbation[kind] else { return nil }
        let width = 720.0, height = 440.0, left = 64.0, right = 170.0, top = 40.0, bottom = 56.0
        let plotW = width - left - right, plotH = height - top - bottom
        let xs = [0.0] + mr.levels
        let xMax = xs.max() ?? 1
        let all = [mr.cleanAccuracy] + mr.curves.values.flatMap { $0 }
        var yLo = ((all.min() ?? 0) / 10).rounded(.down) * 10, yHi = ((all.max() ?? 100) / 10).rounded(.up) * 10
        if yHi <= yLo { yLo = max(0, yLo - 10); yHi = yLo + 20 }
        func x(_ v: Double) -> Double { left + plotW * v / max(xMax, 1e-9) }
        func y(_ v: Double) -> Double { top + plotH * (1 - (v - yLo) / (yHi - yLo)) }
        func f(_ v: Double) -> String { String(format: "%.1f", v) }
        var s = """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" viewBox="0 0 \(Int(width)) \(Int(height))" font-family="sans-serif" font-size="12">
        <rect width="100%" height="100%" fill="white"/>
        <text x="\(f(left + plotW / 2))" y="22" text-anchor="middle" font-size="15">\(kind) mask — \(r.evaluationProtocol) protocol, \(r.samples) samples</text>

        """
        // Grid and ticks.
        let yStep = (yHi - yLo) > 50 ? 20.0 : ((yHi - yLo) > 20 ? 10 : 5)
        var t = yLo
        while t <= yHi + 1e-9 {
            s += "<line x1=\"\(f(left))\" y1=\"\(f(y(t)))\" x2=\"\(f(left + plotW))\" y2=\"\(f(y(t)))\" stroke=\"#e0e0e0\"/>"
            s += "<text x=\"\(f(left - 6))\" y=\"\(f(y(t) + 4))\" text-anchor=\"end\">\(Int(t))</text>\n"
            t += yStep
        }
        for v in xs {
            s += "<line x1=\"\(f(x(v)))\" y1=\"\(f(top + plotH))\" x2=\"\(f(x(v)))\" y2=\"\(f(top + plotH + 4))\" stroke=\"black\"/>"
            s += "<text x=\"\(f(x(v)))\" y=\"\(f(top + plotH + 18))\" text-anchor=\"middle\">\(String(format: "%.1f", 100 * v))</text>\n"
        }
        s += "<rect x=\"\(f(left))\" y=\"\(f(top))\" width=\"\(f(plotW))\" height=\"\(f(plotH))\" fill=\"none\" stroke=\"black\"/>\n"
        s += "<text x=\"\(f(left + plotW / 2))\" y=\"\(f(height - 14))\" text-anchor=\"middle\">% of \(kind == "pixel" ? "pixels" : "tokens") removed (highest attribution first)</text>\n"
        s += "<text transform=\"translate(18 \(f(top + plotH / 2))) rotate(-90)\" text-anchor=\"middle\">mean multi-label accuracy (%)</text>\n"
        for (i, m) in r.methods.enumerated() {
            guard let curve = mr.curves[m] else { continue }
            let colour = palette[i % palette.count]
            let dash = i >= palette.count ? " stroke-dasharray=\"5 3\"" : (m == "random" ? " stroke-dasharray=\"2 3\"" : "")
            let points = zip(xs, [mr.cleanAccuracy] + curve).map { "\(f(x($0))),\(f(y($1)))" }.joined(separator: " ")
            s += "<polyline fill=\"none\" stroke=\"\(colour)\" stroke-width=\"2\"\(dash) points=\"\(points)\"><title>\(m)</title></polyline>\n"
            for (v, a) in zip(mr.levels, curve) {
                s += marker(i, cx: x(v), cy: y(a), colour: colour)
            }
            let ly = top + 8 + Double(i) * 20
            s += "<line x1=\"\(f(left + plotW + 14))\" y1=\"\(f(ly))\" x2=\"\(f(left + plotW + 40))\" y2=\"\(f(ly))\" stroke=\"\(colour)\" stroke-width=\"2\"\(dash)/>"
            s += marker(i, cx: left + plotW + 27, cy: ly, colour: colour)
            s += "<text x=\"\(f(left + plotW + 46))\" y=\"\(f(ly + 4))\">\(m)</text>\n"
        }
        return s + "</svg>\n"
    }

    private static func marker(_ i: Int, cx: Double, cy: Double, colour: String) -> String {
        let x = String(format: "%.1f", cx), y = String(format: "%.1f", cy)
        switch i % 3 {
        case 0: return "<circle cx=\"\(x)\" cy=\"\(y)\" r=\"3\" fill=\"\(colour)\"/>"
        case 1: return "<rect x=\(String(format: "\"%.1f\"", cx - 3)) y=\(String(format: "\"%.1f\"", cy - 3)) width=\"6\" height=\"6\" fill=\"\(colour)\"/>"
        default: return "<path d=\"M\(String(format: "%.1f %.1f", cx, cy - 4)) L\(String(format: "%.1f %.1f", cx + 4, cy + 3)) L\(String(format: "%.1f %.1f", cx - 4, cy + 3)) Z\" fill=\"\(colour)\"/>"
        }
    }
}
