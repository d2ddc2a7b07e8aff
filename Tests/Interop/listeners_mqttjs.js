// MQTT.js over WebSocket: subscribes, publishes and waits for its own message.
// Usage: NODE_PATH=/usr/share/nodejs node listeners_mqttjs.js ws://HOST:PORT/mqtt [CA_FILE]
// MQTT_USERNAME and MQTT_PASSWORD log in; MQTT_TOPIC_PREFIX replaces the topic's prefix.
const fs = require("fs");
const mqtt = require("mqtt");
const [url, caFile] = process.argv.slice(2);
const options = { clientId: "mqttjs-ws-" + Math.random().toString(16).slice(2, 10), reconnectPeriod: 0 };
if (caFile) options.ca = fs.readFileSync(caFile);
if (process.env.MQTT_USERNAME) {
  options.username = process.env.MQTT_USERNAME;
  options.password = process.env.MQTT_PASSWORD;
}
const topic = (process.env.MQTT_TOPIC_PREFIX || "interop/listeners-mqttjs/") + Date.now() + "-" + process.pid;
const client = mqtt.connect(url, options);
const timer = setTimeout(() => {
  console.log("no message within 10 s");
  process.exit(1);
}, 10000);
client.on("connect", () => {
  client.subscribe(topic, { qos: 1 }, (err, granted) => {
    if (err || granted[0].qos > 2) {
      console.log("subscription failed: " + (err || JSON.stringify(granted)));
      process.exit(1);
    }
    client.publish(topic, "over WebSocket", { qos: 1 });
  });
});
client.on("message", (receivedTopic, payload) => {
  if (receivedTopic !== topic || payload.toString() !== "over WebSocket") {
    console.log("unexpected message " + receivedTopic + " " + payload.toString());
    process.exit(1);
  }
  clearTimeout(timer);
  client.end(false, () => process.exit(0));
});
client.on("error", (err) => {
  console.log("error: " + err.message);
  process.exit(1);
});
