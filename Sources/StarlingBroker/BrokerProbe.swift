import Logging
import MQTT
import NIOCore

/// The broker's inside, for the micro-benchmarks under `Benchmarks/`: a broker core on one event loop the
/// benchmark chooses (an `EmbeddedEventLoop`, so that the publish path runs without sockets), whose connection
/// handlers the benchmark puts on channels of its own. Not part of the API.
@_spi(Benchmarks) public final class BrokerProbe {
    private let core: BrokerCore

    /// A broker core with `configuration` whose only event loop is `eventLoop`; it binds no listener.
    public init(eventLoop: any EventLoop, configuration: BrokerConfiguration = BrokerConfiguration()) {
        core = BrokerCore(configuration: configuration, eventLoops: [eventLoop], logger: Logger(label: "starling.probe"))
    }

    /// The handler of one connection, for a channel on the probe's event loop.
    public func connectionHandler() -> any ChannelHandler {
        ConnectionHandler(core: core, loop: core.loops[0], remoteAddress: nil)
    }
}
