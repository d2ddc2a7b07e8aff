import Testing

@testable import StarlingBench

@Suite struct DeliveryTrackerTests {
    @Test func inOrderDeliveriesAreCountedOnceWithNothingLost() {
        var tracker = DeliveryTracker()
        for sequence in 0..<200 as Range<UInt64> {
            #expect(tracker.record(sequence: sequence, publisher: 3) == .first(outOfOrder: false))
        }
        #expect(tracker.delivered == 200)
        #expect(tracker.duplicates == 0)
        #expect(tracker.outOfOrder == 0)
        #expect(tracker.lost(publisher: 3, sent: 200) == 0)
    }

    @Test func gapsAreLost() {
        var tracker = DeliveryTracker()
        for sequence in [0, 1, 2, 5, 6, 63, 64, 65, 129] as [UInt64] { tracker.record(sequence: sequence, publisher: 0) }
        #expect(tracker.lost(publisher: 0, sent: 130) == 130 - 9)
        // Only what was sent counts: a count below the highest sequence ignores the later ones.
        #expect(tracker.lost(publisher: 0, sent: 7) == 2)
        #expect(tracker.lost(publisher: 0, sent: 0) == 0)
        #expect(tracker.lost(publisher: 7, sent: 10) == 10)
    }

    @Test func aRepeatedSequenceIsADuplicateNotADelivery() {
        var tracker = DeliveryTracker()
        tracker.record(sequence: 10, publisher: 1)
        #expect(tracker.record(sequence: 10, publisher: 1) == .duplicate)
        #expect(tracker.record(sequence: 10, publisher: 2) == .first(outOfOrder: false))
        #expect(tracker.delivered == 2)
        #expect(tracker.duplicates == 1)
    }

    @Test func anEarlierSequenceAfterALaterOneIsOutOfOrder() {
        var tracker = DeliveryTracker()
        tracker.record(sequence: 0, publisher: 0)
        tracker.record(sequence: 2, publisher: 0)
        #expect(tracker.record(sequence: 1, publisher: 0) == .first(outOfOrder: true))
        // Judged against the highest sequence so far, so 3 after the late 1 is in order again.
        #expect(tracker.record(sequence: 3, publisher: 0) == .first(outOfOrder: false))
        // Each publisher has its own order.
        #expect(tracker.record(sequence: 0, publisher: 1) == .first(outOfOrder: false))
        #expect(tracker.outOfOrder == 1)
        #expect(tracker.delivered == 5)
        #expect(tracker.lost(publisher: 0, sent: 4) == 0)
    }

    @Test func numbersBeyondTheBoundsAreForeignAndGrowNothing() {
        var tracker = DeliveryTracker()
        #expect(tracker.record(sequence: DeliveryTracker.maximumSequence, publisher: 0) == .foreign)
        #expect(tracker.record(sequence: 0, publisher: UInt32(DeliveryTracker.maximumPublishers)) == .foreign)
        #expect(tracker.foreign == 2)
        #expect(tracker.delivered == 0)
    }

    @Test func mergingSharedSubscriptionMembersCountsOverlapAsDuplicates() {
        var a = DeliveryTracker()
        var b = DeliveryTracker()
        for sequence in stride(from: 0, to: 100, by: 2) as StrideTo<UInt64> { a.record(sequence: sequence, publisher: 0) }
        for sequence in stride(from: 1, to: 100, by: 2) as StrideTo<UInt64> { b.record(sequence: sequence, publisher: 0) }
        b.record(sequence: 4, publisher: 0)
        b.record(sequence: 200, publisher: 1)
        var group = DeliveryTracker()
        group.merge(a)
        group.merge(b)
        #expect(group.delivered == 101)
        #expect(group.duplicates == 1)
        #expect(group.lost(publisher: 0, sent: 100) == 0)
        #expect(group.lost(publisher: 1, sent: 201) == 200)
    }
}
