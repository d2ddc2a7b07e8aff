import StarlingBench
import StarlingTesting
import Testing

/// `starling bench -L URL -L URL …`: connections spread over the brokers, publishers from the first, subscribers
/// from the last.
@Suite struct BenchBrokersTests {
    @Test func publishersAndSubscribersSpreadOverTheBrokers() async throws {
        try await TestBroker.with { first in
            try await TestBroker.with { second in
                var options = BenchOptions()
                options.port = first.port
                options.moreBrokers = [("127.0.0.1", second.port)]
                options.scenario = .pub
                options.publishers = 3
                options.messagesPerPublisher = 10
                options.timeout = .seconds(20)
                _ = try await BenchRunner.run(options)
                // Publishers 0 and 2 on the first broker, 1 on the second.
                #expect(try await first.broker.statistics().messagesReceived == 20)
                #expect(try await second.broker.statistics().messagesReceived == 10)

                options.scenario = .sub
                options.subscribers = 3
                options.duration = .milliseconds(100)
                _ = try await BenchRunner.run(options)
                // Subscribers 0 and 2 on the second (last) broker, 1 on the first.
                #expect(try await first.broker.statistics().acceptedConnections == 2 + 1)
                #expect(try await second.broker.statistics().acceptedConnections == 1 + 2)
            }
        }
    }
}
