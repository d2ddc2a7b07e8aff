import NIOCore

extension MQTTClient {
    /// Sends a 5.0 request and waits for its response (4.10): the message carries a Response Topic this client
    /// subscribes to for the occasion and fresh Correlation Data, and the first message on that topic with the
    /// same Correlation Data is the response. Throws `timedOut` when none comes within `timeout`.
    public func request(
        topic: String, payload: ByteBuffer, qos: QoS = .atLeastOnce, properties: Properties = [],
        responseTopic: String? = nil, timeout: Duration = .seconds(30)
    ) async throws -> MQTTMessage {
        guard configuration.protocolVersion == .v5 else {
            throw MQTTClientError(.requiresMQTT5, "request/response needs MQTT 5.0 (Response Topic and Correlation Data)")
        }
        var generator = SystemRandomNumberGenerator()
        let correlation = ByteBuffer(bytes: (0..<16).map { _ in UInt8.random(in: .min ... .max, using: &generator) })
        let prefix = configuration.clientIdentifier.isEmpty ? "starling" : configuration.clientIdentifier
        let replyTopic = responseTopic ?? "\(prefix)/responses/\(String(UInt64.random(in: .min ... .max, using: &generator), radix: 16))"
        var properties = properties
        properties.set(.responseTopic(replyTopic))
        properties.set(.correlationData(correlation))
        let requestProperties = properties
        return try await withSubscription(to: replyTopic, qos: qos) { responses in
            try await publish(topic: topic, payload: payload, qos: qos, properties: requestProperties)
            return try await withThrowingTaskGroup(of: MQTTMessage?.self) { group in
                group.addTask {
                    for try await message in responses where message.correlationData == correlation { return message }
                    return nil
                }
                group.addTask {
                    try await Task.sleep(for: timeout)
                    throw MQTTClientError(.timedOut, "no response to the request on '\(topic)' within \(timeout)")
                }
                defer { group.cancelAll() }
                guard let response = try await group.next() ?? nil else {
                    throw MQTTClientError.shutdown
                }
                return response
            }
        }
    }

    /// Sends a 5.0 request with `payload` as UTF-8 text and waits for its response; see the `ByteBuffer` variant.
    public func request(
        topic: String, payload: String, qos: QoS = .atLeastOnce, properties: Properties = [],
        responseTopic: String? = nil, timeout: Duration = .seconds(30)
    ) async throws -> MQTTMessage {
        try await request(
            topic: topic, payload: ByteBuffer(string: payload), qos: qos, properties: properties,
            responseTopic: responseTopic, timeout: timeout)
    }

    /// Publishes the response to a 5.0 request: to its Response Topic, with its Correlation Data.
    @discardableResult
    public func respond(
        to request: MQTTMessage, payload: ByteBuffer, qos: QoS = .atLeastOnce, properties: Properties = []
    ) async throws -> PublishResult {
        guard let responseTopic = request.responseTopic else {
            throw MQTTClientError(.invalidTopic, "the message on '\(request.topic)' has no Response Topic to answer on")
        }
        var properties = properties
        if let correlation = request.correlationData { properties.set(.correlationData(correlation)) }
        return try await publish(topic: responseTopic, payload: payload, qos: qos, properties: properties)
    }

    /// Publishes the response to a 5.0 request, with `payload` as UTF-8 text.
    @discardableResult
    public func respond(
        to request: MQTTMessage, payload: String, qos: QoS = .atLeastOnce, properties: Properties = []
    ) async throws -> PublishResult {
        try await respond(to: request, payload: ByteBuffer(string: payload), qos: qos, properties: properties)
    }
}
