// The wire vocabulary (QoS, Properties, ReasonCode, ProtocolVersion, TopicFilter…) is part of the broker's API,
// so a program that imports the broker gets it too, as one that imports the client does.
@_exported import MQTT
