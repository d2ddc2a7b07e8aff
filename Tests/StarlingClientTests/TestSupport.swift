import StarlingClient

extension MQTTClientConfiguration {
    /// The same configuration for another client: brokers let only one connection use a client identifier.
    func withNewIdentifier() -> MQTTClientConfiguration {
        var configuration = self
        configuration.clientIdentifier = MQTTClientConfiguration.randomClientIdentifier()
        return configuration
    }
}
