import MQTT
import NIOCore

/// What the broker sends a client: gathered in one buffer per read burst, large payloads written by reference,
/// and flushed once by `BrokerLoop.flush`.
extension ConnectionHandler {
    /// Appends `packet` to this burst's output, shaped for the client by its `writer`.
    func send(_ packet: Packet) {
        guard state != .closed else { return }
        var packet = packet
        if version == .v5 { writer.fit(&packet) }
        if output == nil { output = loop.outputBuffers.take() }
        do {
            try packet.write(to: &output!, version: version)
        } catch {
            logger.error("could not encode packet", metadata: ["error": "\(error)"])
            return
        }
        markDirty()
    }

    /// Sends `packet` once every change recorded so far on this loop is committed (with `Durability.everyAck`),
    /// and after any acknowledgement already waiting, so that acknowledgements keep their order (MQTT-4.6.0-2);
    /// while flow control slows the client, once it is relieved.
    func sendDurably(_ packet: Packet) {
        if pressure?.congestedSession != nil, CongestionWait.withhold(packet, on: self) { return }
        guard let storeChanges = loop.storeChanges, storeChanges.holdsAcknowledgements else {
            send(packet)
            return
        }
        switch acknowledgements.admit(packet, ticket: storeChanges.currentTicket, committed: storeChanges.committedTicket) {
        case .pass:
            send(packet)
        case .held(let startsWaiting):
            if startsWaiting { storeChanges.wait(self) }
        }
    }

    func sendPublish(_ delivery: Delivery, packetIdentifier: UInt16?, duplicate: Bool, now: NIODeadline) {
        if let guards, guards.access?.mayReceive(delivery.message.topic) == false {
            // Every delivery, retained and queued ones included, passes the client's read rules; a withheld
            // message is done with, as if it had been delivered.
            if let packetIdentifier { session?.inflight.removeValue(forKey: packetIdentifier) }
            return
        }
        guard let packet = writer.publish(delivery, packetIdentifier: packetIdentifier, duplicate: duplicate, now: now, version: version) else {
            // MQTT-3.1.2-25: the message is discarded for this client as if it had been delivered.
            if let session {
                if let packetIdentifier {
                    session.inflight.removeValue(forKey: packetIdentifier)
                    loop.storeChanges?.recordRemoval(delivery, for: session)
                }
                session.drop(delivery, loop: loop, reason: .tooLarge)
            } else {
                loop.counters.drops.count(.tooLarge)
            }
            return
        }
        loop.counters.sent.count(delivery.qos, payloadBytes: delivery.message.payload.readableBytes)
        guard delivery.message.payload.readableBytes >= Self.sharedPayloadThreshold, isAwake,
            case .publish(let publish) = packet
        else {
            send(packet)
            return
        }
        // A large payload is not copied into this connection's output: the header goes into the output buffer,
        // then the payload slice shared by every subscriber follows it as its own write.
        if output == nil { output = loop.outputBuffers.take() }
        do {
            try publish.writeHeader(to: &output!, version: version)
        } catch {
            logger.error("could not encode packet", metadata: ["error": "\(error)"])
            return
        }
        writeOutput()
        loop.counters.bytesSent &+= UInt64(publish.payload.readableBytes)
        context.write(wrapOutboundOut(publish.payload), promise: nil)
        markDirty()
    }

    /// Payloads from this size up are written by reference instead of being copied per subscriber.
    static let sharedPayloadThreshold = 2_048

    private func markDirty() {
        guard !flushPending else { return }
        flushPending = true
        loop.needsFlush(self)
    }

    func flushOutput() {
        flushPending = false
        guard state != .closed else { return }
        guard isAwake else {
            sendAsleep()
            return
        }
        activeSinceCheck = true
        writeOutput()
        context.flush()
    }

    /// Hands the output gathered so far to the channel, unflushed, and its buffer back to the loop.
    private func writeOutput() {
        guard let buffer = output else { return }
        output = nil
        loop.counters.bytesSent &+= UInt64(buffer.readableBytes)
        context.write(wrapOutboundOut(buffer), promise: nil)
        loop.outputBuffers.give(buffer)
    }
}
