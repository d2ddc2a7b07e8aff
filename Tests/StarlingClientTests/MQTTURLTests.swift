import StarlingClient
import Testing

struct MQTTURLTests {
    @Test func fullURL() throws {
        let url = try MQTTURL("mqtt://user:p%40ss@broker.example:1884/topic/a")
        #expect(url.scheme == .mqtt)
        #expect(url.userName == "user")
        #expect(url.password == "p@ss")
        #expect(url.host == "broker.example")
        #expect(url.port == 1884)
        #expect(url.path == "/topic/a")
    }

    @Test func schemesAndAliases() throws {
        #expect(try MQTTURL("tcp://h").scheme == .mqtt)
        #expect(try MQTTURL("ssl://h").scheme == .mqtts)
        #expect(try MQTTURL("tls://h").scheme == .mqtts)
        #expect(try MQTTURL("WSS://h").scheme == .wss)
        #expect(try MQTTURL("ws://h").path == "")
    }

    @Test func ipv6() throws {
        let url = try MQTTURL("mqtt://[::1]:1883")
        #expect(url.host == "::1")
        #expect(url.port == 1883)
    }

    @Test(arguments: ["localhost:1883", "http://h", "mqtt://", "mqtt://h:0", "mqtt://h:99999", "mqtt://h:x", "mqtt://u:%zz@h"])
    func invalid(text: String) {
        let error = #expect(throws: MQTTClientError.self) { try MQTTURL(text) }
        #expect(error?.code == .invalidConfiguration)
    }

    @Test func configurationDefaults() throws {
        let plain = try MQTTClientConfiguration(url: "mqtt://localhost")
        #expect(plain.port == 1883 && plain.tls == nil && plain.transport == .tcp)
        let secure = try MQTTClientConfiguration(url: "mqtts://localhost")
        #expect(secure.port == 8883 && secure.tls != nil)
        let webSocket = try MQTTClientConfiguration(url: "ws://localhost:9001")
        #expect(webSocket.port == 9001 && webSocket.transport == .webSocket(path: "/"))
        let secureWebSocket = try MQTTClientConfiguration(url: "wss://u:p@localhost/mqtt")
        #expect(secureWebSocket.port == 443 && secureWebSocket.transport == .webSocket(path: "/mqtt"))
        #expect(secureWebSocket.userName == "u" && secureWebSocket.password.map { String(buffer: $0) } == "p")
    }
}
