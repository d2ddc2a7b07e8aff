/// ArgumentParser suggests the closest known option for an unknown one, however far it is: "Unknown option
/// '--pretty'. Did you mean '--property'?" leads a user astray. A suggestion is kept only when it is two edits
/// or fewer from what was typed.
enum OptionSuggestion {
    static let maximumDistance = 2

    static func withoutFarSuggestions(_ message: String) -> String {
        message.split(separator: "\n", omittingEmptySubsequences: false).map { line in
            guard let unknown = quoted(in: line, after: "Unknown option "),
                let suggested = quoted(in: line, after: "Did you mean "),
                distance(unknown, suggested) > maximumDistance,
                let cut = line.range(of: " Did you mean ")
            else { return String(line) }
            return String(line[..<cut.lowerBound])
        }.joined(separator: "\n")
    }

    /// The text between the quotes that follow `prefix` in `line`.
    private static func quoted(in line: Substring, after prefix: String) -> String? {
        guard let start = line.range(of: prefix + "'") else { return nil }
        let rest = line[start.upperBound...]
        guard let end = rest.firstIndex(of: "'") else { return nil }
        return String(rest[..<end])
    }

    /// Levenshtein distance between `a` and `b`.
    static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        var previous = Array(0...b.count)
        for (i, left) in a.enumerated() {
            var current = [i + 1]
            for (j, right) in b.enumerated() {
                current.append(min(previous[j + 1] + 1, current[j] + 1, previous[j] + (left == right ? 0 : 1)))
            }
            previous = current
        }
        return previous[b.count]
    }
}
