import Foundation
import HTTPTypes
import Hummingbird
import MQTT
import NIOCore
import StarlingBroker

/// The routes under `/api/v1`, as `Resources/openapi.json` describes them.
struct AdminAPI: Sendable {
    let broker: MQTTBroker
    let bridges: @Sendable () -> [BridgeStatus]
    /// Nil for a broker on its own.
    let nodes: (@Sendable () -> [ClusterMember])?
    let history: StatsHistory
    let historyInterval: Duration
    let maximumBodyBytes: Int

    /// Every path of the API and the methods it answers; any other method gets 405 with `Allow`.
    static let declared: [(path: String, methods: [HTTPRequest.Method])] = [
        ("stats", [.get]), ("stats/history", [.get]), ("clients", [.get]), ("clients/{id}", [.get, .delete]),
        ("subscriptions", [.get]), ("topics", [.get]), ("retained", [.get]), ("retained/**", [.get, .delete]),
        ("publish", [.post]), ("openapi.json", [.get]), ("bridges", [.get]), ("nodes", [.get]),
    ]

    /// Answers the methods a path does not declare with 405, as HTTP asks, rather than the router's 404.
    static func refuseUndeclaredMethods<Context: RequestContext>(on group: RouterGroup<Context>) {
        // QUERY: the safe method with a body that HTTP is adding.
        let methods: [HTTPRequest.Method] = [.get, .head, .post, .put, .patch, .delete, .options, .trace] + [HTTPRequest.Method("QUERY")].compactMap { $0 }
        for (path, allowed) in declared {
            let allow = allowed.map(\.rawValue).joined(separator: ", ") + (allowed.contains(.get) ? ", HEAD" : "")
            for method in methods where !allowed.contains(method) && !(method == .head && allowed.contains(.get)) {
                group.on(RouterPath(stringLiteral: path), method: method) { _, _ -> Response in
                    throw AdminError(.methodNotAllowed, "\(method.rawValue) is not allowed here; use \(allow)", headers: [.allow: allow])
                }
            }
        }
    }

    func add<Context: RequestContext>(to group: RouterGroup<Context>) {
        group.get("stats") { _, _ in StatsBody(try await broker.statistics()) }
        group.get("stats/history") { _, _ in
            StatsHistoryBody(intervalSeconds: Double(historyInterval.components.seconds), samples: history.all)
        }
        group.get("bridges") { _, _ in
            BridgesBody(bridges: bridges().map {
                BridgesBody.Bridge(name: $0.name, up: $0.isUp, forwardedOut: $0.forwardedOut, forwardedIn: $0.forwardedIn)
            })
        }
        group.get("nodes") { _, _ in
            NodesBody(clustered: nodes != nil, nodes: (nodes?() ?? []).map {
                NodesBody.Node(
                    name: $0.name, address: $0.address, alive: $0.isAlive, self: $0.isSelf, linked: $0.isLinked, routes: $0.routes,
                    forwardedFrom: $0.forwardedFrom)
            })
        }
        group.get("clients", use: listClients)
        group.get("clients/{id}") { _, context in
            let id = try Self.pathParameter("id", context)
            guard let client = await broker.client(id) else { throw AdminError(.notFound, "no session has the client identifier \(id)") }
            return ClientBody(client, detailed: true)
        }
        group.delete("clients/{id}") { request, context in
            let id = try Self.pathParameter("id", context)
            let discard = try Self.bool("discard", request) ?? false
            guard let client = await broker.client(id) else { throw AdminError(.notFound, "no session has the client identifier \(id)") }
            let discarded = discard ? await broker.discardSession(clientIdentifier: id) : false
            let disconnected = discard ? client.isConnected : await broker.disconnect(clientIdentifier: id)
            context.logger.notice("client disconnected through the admin API", metadata: ["client": "\(id)", "discard": "\(discard)"])
            return DisconnectionBody(clientId: id, disconnected: disconnected, discarded: discarded)
        }
        group.get("subscriptions", use: listSubscriptions)
        group.get("topics", use: listTopics)
        group.get("retained", use: listRetained)
        group.get("retained/**") { _, context in
            let topic = try Self.topic(context)
            guard let message = try Self.validTopic({ try broker.retainedMessage(topic: topic) }) else {
                throw AdminError(.notFound, "no retained message on \(topic)")
            }
            return RetainedBody(message)
        }
        group.delete("retained/**") { _, context in
            let topic = try Self.topic(context)
            guard try await Self.validTopicAsync({ try await broker.removeRetainedMessage(topic: topic) }) else {
                throw AdminError(.notFound, "no retained message on \(topic)")
            }
            context.logger.notice("retained message removed through the admin API", metadata: ["topic": "\(topic)"])
            return Response(status: .noContent)
        }
        group.post("publish") { request, _ in
            let body = try await request.body.collect(upTo: maximumBodyBytes)
            let publish: PublishRequest
            do {
                publish = try JSONDecoder().decode(PublishRequest.self, from: Data(buffer: body))
            } catch let invalid as PublishRequest.Invalid {
                throw AdminError(.badRequest, invalid.description)
            } catch {
                throw AdminError(.badRequest, "the body is not a valid publish request: \(Self.describe(error))")
            }
            await broker.publish(topic: publish.topic, payload: publish.payload, qos: publish.qos, retain: publish.retain, properties: publish.properties)
            return PublishResultBody(topic: publish.topic, qos: Int(publish.qos.rawValue), retain: publish.retain, payloadSize: publish.payload.readableBytes)
        }
    }

    // MARK: Lists

    @Sendable private func listClients(_ request: Request, context: some RequestContext) async throws -> Page<ClientBody> {
        let (offset, limit) = try Self.paging(request)
        let prefix = Self.string("prefix", request)
        let user = Self.string("user", request)
        let address = Self.string("address", request)
        let connected = try Self.bool("connected", request)
        var clients = await broker.clients().filter { client in
            (prefix.map { client.clientIdentifier.utf8.starts(with: $0.utf8) } ?? true)
                && (user.map { wanted in client.userName?.utf8.elementsEqual(wanted.utf8) == true } ?? true)
                && (address.map { wanted in client.remoteAddress.map { ClientBody.address($0).hasPrefix(wanted) } ?? false } ?? true)
                && (connected.map { client.isConnected == $0 } ?? true)
        }
        clients.sort { $0.clientIdentifier.utf8.lexicographicallyPrecedes($1.clientIdentifier.utf8) }
        return Page(total: clients.count, offset: offset, limit: limit, items: Self.slice(clients, offset, limit).map { ClientBody($0) }, key: "clients")
    }

    @Sendable private func listSubscriptions(_ request: Request, context: some RequestContext) async throws -> Page<SubscriptionBody> {
        let (offset, limit) = try Self.paging(request)
        let clientFilter = Self.string("client", request)
        let topicFilter = Self.string("filter", request)
        let group = Self.string("group", request)
        var clients = await broker.clients()
        if let clientFilter { clients = clients.filter { $0.clientIdentifier.utf8.elementsEqual(clientFilter.utf8) } }
        clients.sort { $0.clientIdentifier.utf8.lexicographicallyPrecedes($1.clientIdentifier.utf8) }
        var subscriptions: [SubscriptionBody] = []
        for client in clients {
            for subscription in client.subscriptions {
                if let topicFilter, !subscription.matchingFilter.utf8.elementsEqual(topicFilter.utf8) { continue }
                if let group, subscription.shareGroup.map({ $0.utf8.elementsEqual(group.utf8) }) != true { continue }
                subscriptions.append(SubscriptionBody(
                    clientId: client.clientIdentifier, filter: subscription.matchingFilter, group: subscription.shareGroup,
                    qos: Int(subscription.options.qos.rawValue)))
            }
        }
        return Page(total: subscriptions.count, offset: offset, limit: limit, items: Self.slice(subscriptions, offset, limit), key: "subscriptions")
    }

    @Sendable private func listTopics(_ request: Request, context: some RequestContext) async throws -> Page<TopicBody> {
        let (offset, limit) = try Self.paging(request)
        let prefix = Self.string("prefix", request)
        var counts: [ExactString: Int] = [:]
        for client in await broker.clients() {
            for subscription in client.subscriptions { counts[ExactString(subscription.matchingFilter), default: 0] += 1 }
        }
        var topics = counts.map { TopicBody(filter: $0.key.string, subscribers: $0.value) }
        if let prefix { topics = topics.filter { $0.filter.utf8.starts(with: prefix.utf8) } }
        topics.sort { $0.filter.utf8.lexicographicallyPrecedes($1.filter.utf8) }
        return Page(total: topics.count, offset: offset, limit: limit, items: Self.slice(topics, offset, limit), key: "topics")
    }

    @Sendable private func listRetained(_ request: Request, context: some RequestContext) async throws -> Page<RetainedBody> {
        let (offset, limit) = try Self.paging(request)
        let pattern = Self.string("pattern", request)
        if let pattern, pattern.utf8.contains(0) { throw AdminError(.badRequest, "pattern must not contain U+0000") }
        let messages: [Message]
        do {
            messages = try broker.retainedMessages(matching: pattern)
        } catch {
            throw AdminError(.badRequest, "pattern is not a valid topic filter: \(error)")
        }
        return Page(total: messages.count, offset: offset, limit: limit, items: Self.slice(messages, offset, limit).map { RetainedBody($0) }, key: "messages")
    }

    // MARK: Parameters

    static let maximumLimit = 1_000
    static let maximumOffset = Int(Int32.max)

    private static func paging(_ request: Request) throws -> (offset: Int, limit: Int) {
        let offset = try integer("offset", request) ?? 0
        let limit = try integer("limit", request) ?? 100
        guard (0...maximumOffset).contains(offset) else { throw AdminError(.badRequest, "offset must be 0 to \(maximumOffset)") }
        guard (1...maximumLimit).contains(limit) else { throw AdminError(.badRequest, "limit must be 1 to \(maximumLimit)") }
        return (offset, limit)
    }

    private static func slice<Item>(_ items: [Item], _ offset: Int, _ limit: Int) -> [Item] {
        guard offset < items.count else { return [] }
        return Array(items[offset..<min(items.count, offset + limit)])
    }

    /// A query parameter decoded as HTML forms encode it: `+` is a space, so a `+` wildcard comes as `%2B`.
    private static func string(_ name: String, _ request: Request) -> String? {
        for pair in (request.uri.query ?? "").split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts[0].replacingOccurrences(of: "+", with: " ").removingPercentEncoding == name else { continue }
            return parts.count > 1 ? parts[1].replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? "" : ""
        }
        return nil
    }

    private static func integer(_ name: String, _ request: Request) throws -> Int? {
        guard let text = string(name, request) else { return nil }
        guard let value = Int(text) else { throw AdminError(.badRequest, "\(name) must be an integer") }
        return value
    }

    private static func bool(_ name: String, _ request: Request) throws -> Bool? {
        switch string(name, request) {
        case nil: return nil
        case "true"?: return true
        case "false"?: return false
        default: throw AdminError(.badRequest, "\(name) must be true or false")
        }
    }

    /// A path parameter, percent-decoded: a client identifier may hold any character.
    private static func pathParameter(_ name: String, _ context: some RequestContext) throws -> String {
        guard let raw = context.parameters.get(name), let decoded = raw.removingPercentEncoding, !decoded.isEmpty else {
            throw AdminError(.badRequest, "\(name) is not validly percent-encoded")
        }
        return decoded
    }

    /// The topic after `/retained/`: its levels as they came, `/` sent as `%2F` or as it is.
    private static func topic(_ context: some RequestContext) throws -> String {
        let raw = context.parameters.getCatchAll().joined(separator: "/")
        guard let topic = raw.removingPercentEncoding, !topic.isEmpty else {
            throw AdminError(.badRequest, "the topic is not validly percent-encoded")
        }
        // MQTT's strings hold no U+0000 (MQTT-1.5.4-2).
        guard !topic.utf8.contains(0) else { throw AdminError(.badRequest, "the topic must not contain U+0000") }
        return topic
    }

    private static func validTopic<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch {
            throw AdminError(.badRequest, "not a valid topic name: \(error)")
        }
    }

    private static func validTopicAsync<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch {
            throw AdminError(.badRequest, "not a valid topic name: \(error)")
        }
    }

    private static func describe(_ error: any Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, _): "missing field \(key.stringValue)"
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context):
            "wrong type at \(context.codingPath.map(\.stringValue).joined(separator: "."))"
        case DecodingError.dataCorrupted: "not JSON"
        default: "\(error)"
        }
    }
}
