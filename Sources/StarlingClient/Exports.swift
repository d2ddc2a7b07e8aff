// The wire vocabulary (QoS, Properties, ReasonCode, ProtocolVersion…) is part of the client's API, so a program
// that imports the client gets it too.
@_exported import MQTT
