/// Did-you-mean suggestions: Levenshtein distance with adjacent transpositions counted as one edit.
public enum EditDistance {
    /// The distance between `a` and `b`; stops early (returning a value above `limit`) once it exceeds `limit`.
    public static func between(_ a: String, _ b: String, limit: Int = .max) -> Int {
        let a = Array(a.unicodeScalars)
        let b = Array(b.unicodeScalars)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        if abs(a.count - b.count) > limit { return limit &+ 1 }
        var previous2 = [Int](repeating: 0, count: b.count + 1)
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            var rowMin = i
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                    current[j] = min(current[j], previous2[j - 2] + 1)
                }
                rowMin = min(rowMin, current[j])
            }
            if rowMin > limit { return limit &+ 1 }
            previous2 = previous
            previous = current
        }
        return previous[b.count]
    }

    /// The closest candidate within `allowed` edits (case-insensitive), nil when none is that close.
    public static func closest(to word: String, in candidates: [String], allowed: Int) -> String? {
        // Very long words are never a misspelling of a short keyword; bound the work on hostile input.
        guard word.utf8.count <= 64 else { return nil }
        let lower = word.lowercased()
        var best: (String, Int)?
        for candidate in candidates where candidate != word {
            let distance = between(lower, candidate.lowercased(), limit: allowed)
            if distance <= allowed, best == nil || distance < best!.1 {
                best = (candidate, distance)
            }
        }
        return best?.0
    }
}
