/// An unordered list of objects that each record their place in it, so that taking one out is O(1): the last
/// one moves into the gap. A loop holds its connections this way, where any of thousands may leave at any
/// moment.
struct PlacedList<Element: AnyObject> {
    private(set) var elements: [Element] = []
    private let place: ReferenceWritableKeyPath<Element, Int>

    init(place: ReferenceWritableKeyPath<Element, Int>) {
        self.place = place
    }

    var count: Int { elements.count }

    mutating func append(_ element: Element) {
        element[keyPath: place] = elements.count
        elements.append(element)
    }

    /// Takes `element` out of the list, which must hold it.
    mutating func remove(_ element: Element) {
        let index = element[keyPath: place]
        precondition(index < elements.count && elements[index] === element, "an element leaves the list it is in")
        let last = elements.removeLast()
        if index < elements.count {
            elements[index] = last
            last[keyPath: place] = index
        }
    }

    /// Hands every element over to `taken` (which must be empty) and leaves the list empty; their recorded places
    /// are stale from then on.
    mutating func takeAll(into taken: inout [Element]) {
        swap(&elements, &taken)
    }
}
