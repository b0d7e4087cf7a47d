// The colours of a scene's light (day, dusk) and the smooth noise the renderer shades with.

/// Colours of a scene's light.
struct Palette {
    var skyTop: SceneColor
    var skyMid: SceneColor
    var skyHorizon: SceneColor
    var haze: SceneColor
    var ambient: Float
    var grass: SceneColor
    var grassFar: SceneColor
    var sidewalk: SceneColor
    var curb: SceneColor
    var shoulder: SceneColor
    var asphalt: SceneColor
    var paint: SceneColor
    var silhouette: SceneColor
    var lightBoost: Float

    init(_ scene: Scene) {
        var rng = SceneRandom(seed: SceneRandom.hash(scene.seed, 0x9A1E77E))
        func jitter(_ c: SceneColor, _ amount: Float) -> SceneColor {
            SceneColor(c.r + Float(rng.uniform(-1, 1)) * amount, c.g + Float(rng.uniform(-1, 1)) * amount,
                       c.b + Float(rng.uniform(-1, 1)) * amount)
        }
        let a = Float(scene.asphalt)
        if scene.dusk {
            skyTop = jitter(SceneColor(38, 36, 82), 8)
            skyMid = jitter(SceneColor(128, 72, 118), 12)
            skyHorizon = jitter(SceneColor(238, 138, 78), 12)
            haze = SceneColor(118, 84, 98)
            ambient = Float(rng.uniform(0.42, 0.55))
            grass = jitter(SceneColor(70, 98, 52), 8)
            silhouette = SceneColor(40, 30, 52)
            lightBoost = 1.35
        } else {
            skyTop = jitter(SceneColor(66, 122, 204), 12)
            skyMid = jitter(SceneColor(130, 170, 220), 8)
            skyHorizon = jitter(SceneColor(196, 214, 232), 8)
            haze = skyHorizon.mixed(SceneColor(200, 205, 210), 0.5)
            ambient = Float(rng.uniform(0.88, 1.05))
            grass = jitter(SceneColor(84, 124, 58), 12)
            silhouette = SceneColor(70, 96, 84)
            lightBoost = 1
        }
        grassFar = grass.mixed(SceneColor(110, 130, 80), 0.3)
        sidewalk = jitter(SceneColor(168, 165, 158), 8)
        curb = SceneColor(196, 194, 190)
        shoulder = jitter(SceneColor(128, 112, 92), 8)
        asphalt = jitter(SceneColor(92 * a, 93 * a, 98 * a), 4)
        paint = SceneColor(232, 232, 226)
    }
}

/// Smooth 1-D value noise in [0, 1).
@inline(__always)
func valueNoise(_ x: Double, seed: UInt64) -> Double {
    let f = x.rounded(.down), t = x - f
    let i = UInt64(bitPattern: Int64(f))
    let a = SceneRandom.unitHash(seed, i), b = SceneRandom.unitHash(seed, i &+ 1)
    let s = t * t * (3 - 2 * t)
    return a + (b - a) * s
}
