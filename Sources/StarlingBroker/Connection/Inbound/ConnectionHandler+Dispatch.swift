import MQTT

/// Where each decoded packet goes: the state machine's `dispatch` says which of the connection's procedures
/// (`ConnectAttempt`, `PublishReception`, `SubscriptionRequest`, the authentication exchange) takes it.
extension ConnectionHandler {
    /// A decoded packet, where the state machine says it goes.
    func handle(_ packet: Packet) {
        switch machine.dispatch(packet) {
        case .connected:
            handleConnected(packet)
        case .connect:
            guard case .connect(let connect) = packet else { return }
            ConnectAttempt.start(connect, on: self)
        case .authenticationExchange:
            ConnectionAuthentication.receiveBeforeConnAck(packet, on: self)
        case .ignore:
            return
        case .close:
            logger.info("first packet was not CONNECT", metadata: ["type": "\(packet.type)"])
            close()
        case .disconnect(let reason, let why):
            disconnect(reason: reason, reasonString: why)
        }
    }

    /// A connected client's packet, by kind: a PUBLISH or a SUBSCRIBE to its procedure, acknowledgements to the
    /// session.
    func handleConnected(_ packet: Packet) {
        guard let session else { return }
        switch packet {
        case .publish(let publish):
            PublishReception.receive(publish, session: session, on: self)
        case .pubAck(let ack):
            session.acknowledge(ack.packetIdentifier)
        case .pubRec(let ack):
            session.received(ack.packetIdentifier, reasonCode: ack.reasonCode)
        case .pubRel(let ack):
            let known = session.receivedQoS2.remove(ack.packetIdentifier) != nil
            if known { session.recordReceivedQoS2(ack.packetIdentifier, released: true, in: loop.storeChanges) }
            sendDurably(.pubComp(AcknowledgementPacket(packetIdentifier: ack.packetIdentifier, reasonCode: known ? .success : .packetIdentifierNotFound)))
        case .pubComp(let ack):
            session.completed(ack.packetIdentifier)
        case .subscribe(let subscribe):
            SubscriptionRequest.subscribe(subscribe, session: session, on: self)
        case .unsubscribe(let unsubscribe):
            SubscriptionRequest.unsubscribe(unsubscribe, session: session, on: self)
        case .pingReq:
            send(.pingResp)
        case .disconnect(let disconnect):
            switch machine.receiveDisconnect(disconnect, sessionExpiryInterval: session.expiryInterval) {
            case .close(let expiryInterval):
                if let expiryInterval { session.expiryInterval = expiryInterval }
                close()
            case .disconnect(let reason, let why):
                self.disconnect(reason: reason, reasonString: why)
            }
        case .auth(let auth):
            ConnectionAuthentication.receiveWhenConnected(auth, on: self)
        case .connect, .connAck, .subAck, .unsubAck, .pingResp:
            // Turned away by the state machine's dispatch.
            return
        }
    }
}
