/// Which pixels or tokens a perturbation level removes: the top of an attribution map.
public enum Selection {
    /// The `count` highest entries, ties broken by the lower index (a stable descending sort), so exactly `count`.
    public static func top(_ map: [Float], count: Int) -> [Int] {
        guard count > 0 else { return [] }
        let order = map.indices.sorted { map[$0] != map[$1] ? map[$0] > map[$1] : $0 < $1 }
        return Array(order.prefix(count))
    }

    /// The authors' pixel selection: τ = the value at sorted-descending position `count` (0-based), then every
    /// entry strictly above τ — at most `count`, fewer when values tie at τ.
    public static func strictlyAboveKth(_ map: [Float], count: Int) -> [Int] {
        guard count > 0 else { return [] }
        guard count < map.count else { return Array(map.indices) }
        let tau = map.sorted(by: >)[count]
        return map.indices.filter { map[$0] > tau }
    }
}
