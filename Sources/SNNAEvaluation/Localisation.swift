/// Agreement of one pixel-level attribution map with a ground-truth region (both row-major, same size).
public struct LocalisationScores: Sendable, Equatable {
    /// 1 when the map's maximum (the first one, in row-major order) lies inside the region, else 0.
    public var pointingHit: Double
    /// Σ inside / Σ everywhere of the min-max normalised map (a constant map counts as uniform): the share of the
    /// attribution energy inside the region. A uniform map scores the region's area fraction.
    public var energyInside: Double
    /// |top ∩ region| / |top ∪ region|, top = the ⌊fraction·pixels + ½⌋ highest pixels (ties to the lower index).
    public var topIoU: Double

    public init(pointingHit: Double, energyInside: Double, topIoU: Double) {
        self.pointingHit = pointingHit
        self.energyInside = energyInside
        self.topIoU = topIoU
    }

    public static func measure(map: [Float], region: [Bool], topFraction: Double) -> LocalisationScores {
        precondition(map.count == region.count && !map.isEmpty, "map and region must have the same, non-zero size")
        var best = 0
        for i in map.indices where map[i] > map[best] { best = i }
        let lo = map.min()!, hi = map.max()!
        var inside = 0.0, total = 0.0
        for i in map.indices {
            let v = hi > lo ? Double(map[i] - lo) / Double(hi - lo) : 1
            total += v
            if region[i] { inside += v }
        }
        let k = Int(topFraction * Double(map.count) + 0.5)
        let top = Selection.top(ranking: Selection.ranking(map), count: k)
        let intersection = top.filter { region[$0] }.count
        let union = top.count + region.filter { $0 }.count - intersection
        return LocalisationScores(pointingHit: region[best] ? 1 : 0, energyInside: total > 0 ? inside / total : 0,
                                  topIoU: union > 0 ? Double(intersection) / Double(union) : 0)
    }
}
