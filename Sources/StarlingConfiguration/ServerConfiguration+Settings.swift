import Logging
import MQTT
import StarlingBroker

extension ServerConfiguration {
    /// The top-level keys of the configuration file. Each is also a `STARLING_` environment variable
    /// (`max_packet_size` → `STARLING_MAX_PACKET_SIZE`) and a `serve` flag (`--max-packet-size`).
    static let settings: [Setting<ServerConfiguration>] = [
        .choice("log_level", \.logLevel, [
            "trace": .trace, "debug": .debug, "info": .info, "notice": .notice, "warning": .warning, "error": .error,
            "critical": .critical,
        ]),
        .int("threads", \.threads, in: 0...1_024),
        .int("max_packet_size", \.broker.limits.maximumPacketSize, in: 16...268_435_455),
        .int("max_inflight", \.broker.limits.maximumInflight, in: 1...65_535),
        .int("max_queued", \.broker.limits.maximumQueuedMessages, in: 0...10_000_000),
        .int("max_queued_bytes", \.broker.limits.maximumQueuedBytes, in: 1_024...(1 << 31)),
        .bool("flow_control", \.broker.limits.flowControlEnabled),
        .int("queue_high_water", \.broker.limits.flowControlSettings.highWater, in: 1...10_000_000),
        .int("queue_low_water", \.broker.limits.flowControlSettings.lowWater, in: 0...10_000_000),
        .int("max_queued_connected", \.broker.limits.flowControlSettings.maximumQueued, in: 1...100_000_000),
        .int("max_withheld_acks", \.broker.limits.flowControlSettings.maximumWithheldAcknowledgements, in: 1...1_000_000),
        .int("max_connections", \.broker.limits.maximumConnections, in: 1...10_000_000),
        .int("max_topic_length", \.broker.limits.maximumTopicLength, in: 1...65_535),
        .int("max_topic_levels", \.broker.limits.maximumTopicLevels, in: 1...65_535),
        .int("max_subscriptions", \.broker.limits.maximumSubscriptionsPerClient, in: 1...10_000_000),
        .int("max_sessions", \.broker.limits.maximumSessions, in: 1...100_000_000),
        .int("max_retained_messages", \.broker.limits.maximumRetainedMessages, in: 0...100_000_000),
        .int("max_retained_bytes", \.broker.limits.maximumRetainedBytes, in: 0...(1 << 40)),
        .uint16("max_keepalive", \.broker.limits.maximumKeepAlive, in: 1...65_535),
        .uint16("receive_maximum", \.broker.limits.receiveMaximum, in: 1...65_535),
        .uint16("topic_alias_maximum", \.broker.limits.topicAliasMaximum),
        .int("max_outbound_bytes", \.broker.limits.maximumOutboundBytes, in: 1_024...1_073_741_824),
        .seconds("connect_timeout", \.broker.limits.connectTimeout),
        .int("max_upgrade_head_bytes", \.broker.limits.maximumUpgradeHeadBytes, in: 1_024...1_048_576),
        .seconds("drain_timeout", \.broker.limits.drainTimeout),
        .seconds("hibernate_after", \.broker.limits.hibernateAfter),
        .optionalInt("hibernate_quickly_above", \.broker.limits.hibernateQuicklyAbove, in: 0...100_000_000),
        .seconds("auth_timeout", \.broker.limits.authenticationTimeout),
        .optionalInt("return_freed_memory_after", \.broker.limits.freedMemoryReturnAfterConnections, in: 0...100_000_000),
        .int("max_client_id_length", \.broker.limits.maximumClientIdentifierLength, in: 1...65_535),
        .uint16("outbound_topic_alias_maximum", \.broker.limits.maximumOutboundTopicAliases),
        .bool("retain_available", \.broker.retainAvailable),
        .bool("wildcard_subscription_available", \.broker.wildcardSubscriptionAvailable),
        .bool("subscription_identifiers_available", \.broker.subscriptionIdentifiersAvailable),
        .bool("shared_subscription_available", \.broker.sharedSubscriptionAvailable),
        .choice("maximum_qos", \.broker.maximumQoS, ["0": .atMostOnce, "1": .atLeastOnce, "2": .exactlyOnce]),
        .choice("shared_subscription_policy", \.broker.sharedSubscriptionPolicy, [
            "round_robin": .roundRobin, "hash_by_client": .hashByClient,
        ]),
        .bool("queue_qos0_while_offline", \.broker.queueQoS0WhileOffline),
        .string("response_information", \.broker.responseInformation),
        .seconds("sys_interval", \.broker.systemTopicsInterval),
        .string("password_file", \.passwordFile),
        .string("acl_file", \.aclFile),
        .bool("allow_anonymous", \.allowAnonymous),
        .double("reload_interval", \.reloadInterval, in: 0...86_400),
        .optionalInt("max_payload_size", \.maximumPayloadSize, in: 0...268_435_455),
        .double("max_publish_rate", \.publishRate, in: 0.001...10_000_000),
        .double("max_publish_bandwidth", \.publishBandwidth, in: 1...100_000_000_000),
        .double("max_connection_rate", \.connectionRate, in: 0.001...1_000_000),
        .optionalInt("max_failed_logins", \.failedLogins, in: 0...1_000_000),
        .optionalInt("max_logins_in_progress", \.loginsInProgress, in: 0...1_000_000),
        .optionalInt("max_logins_in_progress_per_address", \.loginsInProgressPerAddress, in: 0...1_000_000),
        .bool("use_username_as_clientid", \.userNameAsClientIdentifier),
        .bool("clientid_prefixed_by_username", \.clientIdentifierPrefixedByUserName),
        .string("clientid_username_separator", \.clientIdentifierSeparator),
        .string("data_dir", \.dataDirectory),
        .bool("memory", \.memory),
        .string("store_url", \.storeURL),
        .choice("durability", \.durabilityMode, ["every-ack": "every-ack", "periodic": "periodic"]),
        .int("durability_interval_ms", \.durabilityInterval, in: 1...60_000),
        .string("cluster.url", \.cluster.url),
        .string("cluster.node", \.cluster.node),
        .string("cluster.address", \.cluster.address),
        .double("cluster.node_timeout", \.cluster.nodeTimeout, in: 1...3_600),
        .string("http.host", \.http.host),
        .optionalInt("http.port", \.http.port, in: 0...65_535),
        .string("http.token", \.http.token),
        .bool("http.users_from_password_file", \.http.usersFromPasswordFile),
        .string("http.tls.certificate", \.http.tlsCertificate),
        .string("http.tls.key", \.http.tlsKey),
    ]
}

extension BrokerConfiguration.Limits {
    /// `freedMemoryReturn` as the one number the configuration file sets: connections accepted since memory was
    /// last given back; 0 never gives it back.
    var freedMemoryReturnAfterConnections: Int? {
        get { freedMemoryReturn?.afterConnections ?? 0 }
        set {
            guard let newValue else { return }
            freedMemoryReturn = newValue == 0 ? nil : FreedMemoryReturn(interval: freedMemoryReturn?.interval ?? .seconds(10), afterConnections: newValue)
        }
    }
}

extension BrokerConfiguration.Limits {
    /// `flow_control`: false drops messages to a connected session beyond `max_queued` instead of slowing its
    /// publishers.
    var flowControlEnabled: Bool {
        get { flowControl != nil }
        set { flowControl = newValue ? (flowControl ?? FlowControl()) : nil }
    }

    /// The flow control thresholds the file sets; ignored while flow control is off.
    var flowControlSettings: FlowControl {
        get { flowControl ?? FlowControl() }
        set { if flowControl != nil { flowControl = newValue } }
    }
}
