/// Which pixels or tokens a perturbation level removes: the top of an attribution map. A map is ranked once and the
/// ranking cut at every level.
public enum Selection {
    /// Indices by descending value, ties by the lower index (a stable sort).
    public static func ranking(_ map: [Float]) -> [Int] {
        map.indices.sorted { map[$0] != map[$1] ? map[$0] > map[$1] : $0 < $1 }
    }

    /// The `count` highest entries of a ranked map, exactly `count`.
    public static func top(ranking: [Int], count: Int) -> ArraySlice<Int> {
        ranking.prefix(max(0, count))
    }

    /// The authors' pixel selection: τ = the value at sorted-descending position `count` (0-based), then every
    /// entry strictly above τ — at most `count`, fewer when values tie at τ; all entries when count ≥ their number.
    public static func strictlyAboveKth(_ map: [Float], ranking: [Int], count: Int) -> ArraySlice<Int> {
        guard count > 0 else { return [] }
        guard count < ranking.count else { return ranking[...] }
        let tau = map[ranking[count]]
        // Entries above τ are a prefix of the ranking.
        var end = count
        while end > 0 && map[ranking[end - 1]] <= tau { end -= 1 }
        return ranking.prefix(end)
    }
}
