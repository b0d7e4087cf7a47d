/// One predicted action as shown in the overlay panel.
public struct ActionBar: Sendable, Equatable {
    public var label: String
    /// 0…1; values outside are clamped for the bar, NaN draws an empty bar and "-.--".
    public var probability: Float
    /// Whether the model predicts this action (drawn green rather than grey).
    public var active: Bool

    public init(label: String, probability: Float, active: Bool) {
        self.label = label
        self.probability = probability
        self.active = active
    }
}

/// Renders the explanation video's frames: heat map blended over the frame, a panel of action bars, the timestamp
/// and an optional caption, all with a built-in bitmap font so no font library is needed.
public enum Overlay {
    // MARK: Heat layer

    /// Heat layer for a rows×cols attribution map that covers the top-left coveredWidth×coveredHeight pixels of a
    /// frameWidth×frameHeight frame (the model's crop mapped back to frame coordinates). Inside: bilinear resize to
    /// the covered size, min-max normalisation (a constant map gives zeros), JET colours, weight 255. Outside: weight 0
    /// and black. A covered region larger than the frame is resized at its full size and clipped.
    public static func heatLayer(map: [Float], rows: Int, cols: Int, coveredWidth: Int, coveredHeight: Int,
                                 frameWidth: Int, frameHeight: Int) -> HeatLayer {
        precondition(frameWidth >= 0 && frameHeight >= 0, "negative frame size \(frameWidth)x\(frameHeight)")
        let pixelCount = frameWidth * frameHeight
        var colors = [UInt8](repeating: 0, count: pixelCount * 3)
        var weight = [UInt8](repeating: 0, count: pixelCount)
        let cw = max(coveredWidth, 0), ch = max(coveredHeight, 0)
        let visibleWidth = min(cw, frameWidth), visibleHeight = min(ch, frameHeight)
        if visibleWidth > 0 && visibleHeight > 0 {
            let resized = HeatmapResize.bilinear(map, rows: rows, cols: cols, width: cw, height: ch)
            let normalized = Heatmap.normalizeMinMax(resized)
            var jet = [UInt8](repeating: 0, count: 256 * 3)
            for i in 0..<256 {
                let c = Colormap.jet(UInt8(i))
                jet[i * 3] = c.r
                jet[i * 3 + 1] = c.g
                jet[i * 3 + 2] = c.b
            }
            normalized.withUnsafeBufferPointer { m in
                jet.withUnsafeBufferPointer { lut in
                    colors.withUnsafeMutableBufferPointer { out in
                        weight.withUnsafeMutableBufferPointer { w in
                            for y in 0..<visibleHeight {
                                for x in 0..<visibleWidth {
                                    // As Heatmap.colorize: index = truncate(255·m), NaN → 0.
                                    let scaled = 255 * m[y * cw + x]
                                    let index = scaled.isNaN ? 0 : Int(min(max(scaled, 0), 255))
                                    let p = y * frameWidth + x
                                    out[p * 3] = lut[index * 3]
                                    out[p * 3 + 1] = lut[index * 3 + 1]
                                    out[p * 3 + 2] = lut[index * 3 + 2]
                                    w[p] = 255
                                }
                            }
                        }
                    }
                }
            }
        }
        return HeatLayer(width: frameWidth, height: frameHeight, colors: colors, weight: weight)
    }

    // MARK: Composition

    /// A new image: `frame` with (a) the heat layer blended in at `heatOpacity`·weight/255, (b) a semi-transparent
    /// panel top-left with one row per action (label, bar filled in proportion to the probability, green when active,
    /// grey otherwise, and the probability with two decimals), (c) `timestamp` bottom-left and (d) `caption`
    /// bottom-right (or above the timestamp when the frame is too narrow for both on one line). Sizes scale with the
    /// frame height (font pixel = max(1, height/360)); everything is clipped, so any frame size is safe. A heat layer
    /// of another size is blended over the overlapping top-left part only.
    public static func compose(frame: RGBImage, heat: HeatLayer?, heatOpacity: Float, bars: [ActionBar],
                               timestamp: String, caption: String?) -> RGBImage {
        frame.checkInvariant()
        var out = frame
        let width = frame.width, height = frame.height
        guard width > 0, height > 0 else { return out }
        let layout = Layout(width: width, height: height, bars: bars, timestamp: timestamp, caption: caption)
        out.pixels.withUnsafeMutableBufferPointer { buffer in
            if let heat { blend(heat, opacity: heatOpacity, into: buffer, width: width, height: height) }
            drawPanel(layout, bars: bars, into: buffer, width: width, height: height)
            let s = layout.scale
            BitmapFont.draw(timestamp, into: buffer, width: width, height: height,
                            x: layout.timestamp.x, y: layout.timestamp.y, scale: s, color: Style.text, shadow: true)
            if let caption, let rect = layout.caption {
                BitmapFont.draw(caption, into: buffer, width: width, height: height,
                                x: rect.x, y: rect.y, scale: s, color: Style.caption, shadow: true)
            }
        }
        return out
    }

    /// out = frame + k·(heat − frame)/256 per channel, k = round(256·α·w/255) from a 256-entry table, so weight 0
    /// leaves the frame untouched and α = 1, w = 255 gives the heat colour exactly.
    static func blend(_ heat: HeatLayer, opacity: Float, into buffer: UnsafeMutableBufferPointer<UInt8>,
                      width: Int, height: Int) {
        let alpha = opacity.isNaN ? 0 : min(max(opacity, 0), 1)
        guard alpha > 0, let base = buffer.baseAddress else { return }
        var factor = [UInt32](repeating: 0, count: 256)
        for w in 0..<256 { factor[w] = UInt32((alpha * Float(w) * 256 / 255).rounded()) }
        let rows = min(height, heat.height), cols = min(width, heat.width)
        guard rows > 0, cols > 0 else { return }
        factor.withUnsafeBufferPointer { k in
            heat.colors.withUnsafeBufferPointer { colors in
                heat.weight.withUnsafeBufferPointer { weight in
                    guard let c = colors.baseAddress, let wt = weight.baseAddress else { return }
                    for y in 0..<rows {
                        let f = base + y * width * 3
                        let h = c + y * heat.width * 3
                        let wr = wt + y * heat.width
                        for x in 0..<cols {
                            let kx = k[Int(wr[x])]
                            if kx == 0 { continue }
                            let keep = 256 &- kx
                            let i = x * 3
                            f[i] = UInt8(truncatingIfNeeded: (UInt32(f[i]) &* keep &+ UInt32(h[i]) &* kx &+ 128) >> 8)
                            f[i + 1] = UInt8(truncatingIfNeeded:
                                (UInt32(f[i + 1]) &* keep &+ UInt32(h[i + 1]) &* kx &+ 128) >> 8)
                            f[i + 2] = UInt8(truncatingIfNeeded:
                                (UInt32(f[i + 2]) &* keep &+ UInt32(h[i + 2]) &* kx &+ 128) >> 8)
                        }
                    }
                }
            }
        }
    }

    private static func drawPanel(_ layout: Layout, bars: [ActionBar], into buffer: UnsafeMutableBufferPointer<UInt8>,
                                  width: Int, height: Int) {
        guard let panel = layout.panel else { return }
        Raster.darken(buffer, width: width, height: height, x: panel.x, y: panel.y, w: panel.w, h: panel.h,
                      keep: Style.panelKeep)
        let s = layout.scale
        for (row, bar) in zip(layout.rows, bars) {
            let textColor = bar.active ? Style.text : Style.dimText
            BitmapFont.draw(Layout.clippedLabel(bar.label), into: buffer, width: width, height: height,
                            x: row.labelX, y: row.y, scale: s, color: textColor, shadow: true)
            let track = row.bar
            Raster.fill(buffer, width: width, height: height, x: track.x, y: track.y, w: track.w, h: track.h,
                        color: Style.track)
            let filled = Layout.filledLength(bar.probability, of: track.w)
            Raster.fill(buffer, width: width, height: height, x: track.x, y: track.y, w: filled, h: track.h,
                        color: bar.active ? Style.activeBar : Style.inactiveBar)
            BitmapFont.draw(probabilityText(bar.probability), into: buffer, width: width, height: height,
                            x: row.probabilityX, y: row.y, scale: s, color: textColor, shadow: true)
        }
    }

    /// Two decimals without Foundation: 0.834 → "0.83", 1 → "1.00"; NaN → "-.--"; clamped to 0…9.99.
    static func probabilityText(_ p: Float) -> String {
        guard !p.isNaN else { return "-.--" }
        let hundredths = Int((min(max(p, 0), 9.99) * 100).rounded())
        let fraction = hundredths % 100
        return "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction)"
    }

    // MARK: Timestamp

    /// "HH:MM:SS.mmm", rounded to the millisecond; hours grow past two digits when needed. Negative values get a
    /// "-" prefix; NaN, infinities and values too large for a millisecond count give "--:--:--.---".
    public static func timestamp(seconds: Double) -> String {
        let magnitude = abs(seconds) * 1000
        guard magnitude.isFinite, magnitude < 9.0e18 else { return "--:--:--.---" }
        let total = Int64(magnitude.rounded())
        let ms = total % 1000, s = total / 1000 % 60, m = total / 60_000 % 60, h = total / 3_600_000
        func pad(_ v: Int64, _ digits: Int) -> String {
            let text = String(v)
            return text.count >= digits ? text : String(repeating: "0", count: digits - text.count) + text
        }
        let sign = seconds < 0 && total > 0 ? "-" : ""
        return "\(sign)\(pad(h, 2)):\(pad(m, 2)):\(pad(s, 2)).\(pad(ms, 3))"
    }

    // MARK: Layout and style

    enum Style {
        static let text: (UInt8, UInt8, UInt8) = (240, 240, 240)
        static let dimText: (UInt8, UInt8, UInt8) = (170, 170, 170)
        static let caption: (UInt8, UInt8, UInt8) = (255, 220, 80)
        static let activeBar: (UInt8, UInt8, UInt8) = (40, 210, 90)
        static let inactiveBar: (UInt8, UInt8, UInt8) = (135, 135, 135)
        static let track: (UInt8, UInt8, UInt8) = (50, 50, 50)
        /// Panel = black at opacity 1 − 100/256 ≈ 0.6.
        static let panelKeep = 100
        static let maxLabelCharacters = 20
    }

    struct Rect: Equatable {
        var x, y, w, h: Int
        func contains(_ px: Int, _ py: Int) -> Bool { px >= x && px < x + w && py >= y && py < y + h }
    }

    /// Where everything goes on a width×height frame; rectangles may extend past the frame (drawing clips).
    struct Layout {
        struct Row { var y: Int; var labelX: Int; var bar: Rect; var probabilityX: Int }

        let scale: Int
        let margin: Int
        /// The darkened panel, nil without bars.
        let panel: Rect?
        let rows: [Row]
        /// Text boxes including the shadow.
        let timestamp: Rect
        let caption: Rect?

        init(width: Int, height: Int, bars: [ActionBar], timestamp text: String, caption captionText: String?) {
            let s = max(1, height / 360)
            scale = s
            margin = 6 * s
            let glyph = BitmapFont.glyphHeight * s
            let textHeight = glyph + s  // glyph plus its one-pixel shadow
            if bars.isEmpty {
                panel = nil
                rows = []
            } else {
                let pad = 5 * s, rowHeight = glyph + 5 * s, gap = 8 * s
                let labelChars = bars.map { Layout.clippedLabel($0.label).count }.max() ?? 0
                let labelX = margin + pad
                let barX = labelX + labelChars * 8 * s + gap
                let barWidth = 80 * s
                let probabilityX = barX + barWidth + gap
                let probabilityWidth = BitmapFont.width(of: "0.00", scale: s) + s
                var built: [Row] = []
                for i in bars.indices {
                    let y = margin + pad + i * rowHeight
                    built.append(Row(y: y, labelX: labelX, bar: Rect(x: barX, y: y + s, w: barWidth, h: glyph - 2 * s),
                                     probabilityX: probabilityX))
                }
                rows = built
                panel = Rect(x: margin, y: margin, w: probabilityX + probabilityWidth + pad - margin,
                             h: 2 * pad + (bars.count - 1) * rowHeight + textHeight)
            }
            let stamp = Rect(x: margin, y: height - margin - textHeight,
                             w: BitmapFont.width(of: text, scale: s) + s, h: textHeight)
            timestamp = stamp
            if let captionText, !captionText.isEmpty {
                let w = BitmapFont.width(of: captionText, scale: s) + s
                let right = width - margin - w
                if right >= stamp.x + stamp.w + 4 * glyph {
                    caption = Rect(x: right, y: stamp.y, w: w, h: textHeight)
                } else {
                    caption = Rect(x: margin, y: stamp.y - glyph - 4 * s, w: w, h: textHeight)
                }
            } else {
                caption = nil
            }
        }

        /// Labels longer than the panel allows are cut (the panel must not cover the road).
        static func clippedLabel(_ label: String) -> String {
            label.count <= Style.maxLabelCharacters ? label : String(label.prefix(Style.maxLabelCharacters))
        }

        /// Filled pixels of a bar `length` long at probability p (clamped to 0…1, NaN → 0).
        static func filledLength(_ p: Float, of length: Int) -> Int {
            guard !p.isNaN else { return 0 }
            return Int((min(max(p, 0), 1) * Float(length)).rounded())
        }
    }
}

extension Overlay {
    /// The heat map of one explained frame, already in frame coordinates, ready to blend over that frame and the
    /// frames after it until the next explanation.
    public struct HeatLayer: Sendable, Equatable {
        public let width: Int
        public let height: Int
        /// RGB per pixel of the frame, row-major interleaved; count == width·height·3.
        public let colors: [UInt8]
        /// Blend weight per pixel, 0…255: 255 inside the region the map covers, 0 outside.
        public let weight: [UInt8]

        public init(width: Int, height: Int, colors: [UInt8], weight: [UInt8]) {
            precondition(width >= 0 && height >= 0, "negative heat layer size \(width)x\(height)")
            precondition(colors.count == width * height * 3 && weight.count == width * height,
                         "heat layer \(width)x\(height) needs \(width * height * 3) colour and \(width * height) weight bytes")
            self.width = width
            self.height = height
            self.colors = colors
            self.weight = weight
        }
    }
}
