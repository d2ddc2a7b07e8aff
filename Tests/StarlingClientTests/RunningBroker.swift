import StarlingTestSupport
import StarlingTesting

/// A broker started for one test, whichever kind it is.
protocol RunningBroker: AnyObject {
    /// The `mqtt://` URL of its plain MQTT listener on 127.0.0.1.
    var url: String { get }
    /// Starts the broker again after `stop()`, on the same port.
    func start() async throws
    /// Stops the broker, closing every client's connection.
    func stop() async
    /// Stops the broker and starts it again on the same port. Sessions survive only if the broker stores
    /// them somewhere that outlives the process (mosquitto with persistence; never Starling, which keeps them in memory).
    func restart() async throws
}

extension MosquittoBroker: RunningBroker {}

extension TestBroker: RunningBroker {}
