import NIOCore
import NIOSSL

/// Writes the same bytes over and over as fast as the connection takes them, never reading: the client that
/// floods the broker with pings (PINGREQ, WebSocket pings) and reads none of the answers. Sits right above TLS
/// (or first), so that what it writes goes out as it is, below any WebSocket framing.
///
/// The flood ends when every chunk is out, when the connection closes, or when it has stalled: the broker has
/// taken nothing for `stallAfter`, which is what a broker that stops reading looks like from outside.
final class Flood: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny
    typealias OutboundOut = ByteBuffer

    struct Outcome: Sendable {
        var chunksWritten: Int
        var stalled: Bool
        var closed: Bool
    }

    private let chunk: ByteBuffer
    private let chunks: Int
    private let stallAfter: TimeAmount
    private let deadline: TimeAmount
    private let promise: EventLoopPromise<Outcome>
    private var written = 0
    private var stallTimer: Scheduled<Void>?
    private var deadlineTimer: Scheduled<Void>?
    private var finished = false

    private init(chunk: ByteBuffer, chunks: Int, stallAfter: TimeAmount, deadline: TimeAmount, promise: EventLoopPromise<Outcome>) {
        self.chunk = chunk
        self.chunks = chunks
        self.stallAfter = stallAfter
        self.deadline = deadline
        self.promise = promise
    }

    /// Floods `channel` with `chunks` copies of `chunk`; gives up after `deadline` whatever happens.
    static func run(
        on channel: any Channel, chunk: ByteBuffer, chunks: Int, stallAfter: TimeAmount = .seconds(2), deadline: TimeAmount = .seconds(30)
    ) async throws -> Outcome {
        try await channel.eventLoop.flatSubmit {
            let promise = channel.eventLoop.makePromise(of: Outcome.self)
            let sync = channel.pipeline.syncOperations
            let flood = Flood(chunk: chunk, chunks: chunks, stallAfter: stallAfter, deadline: deadline, promise: promise)
            do {
                if let tls = try? sync.handler(type: NIOSSLClientHandler.self) {
                    try sync.addHandler(flood, position: .after(tls))
                } else {
                    try sync.addHandler(flood, position: .first)
                }
            } catch {
                promise.fail(error)
            }
            return promise.futureResult
        }.get()
    }

    func handlerAdded(context: ChannelHandlerContext) {
        deadlineTimer = context.eventLoop.assumeIsolated().scheduleTask(in: deadline) { [self] in
            finish(stalled: false, closed: false)
        }
        pump(context: context)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            stallTimer?.cancel()
            stallTimer = nil
            pump(context: context)
        }
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        finish(stalled: false, closed: true)
        context.fireChannelInactive()
    }

    private func pump(context: ChannelHandlerContext) {
        guard !finished else { return }
        // Flushed chunk by chunk: TLS takes writes into a buffer of its own and hands them to the socket, where
        // they count against the channel's writability, only when flushed.
        while context.channel.isWritable, written < chunks {
            context.writeAndFlush(wrapOutboundOut(chunk), promise: nil)
            written += 1
        }
        if written == chunks {
            finish(stalled: false, closed: false)
        } else if stallTimer == nil {
            stallTimer = context.eventLoop.assumeIsolated().scheduleTask(in: stallAfter) { [self] in
                finish(stalled: true, closed: false)
            }
        }
    }

    private func finish(stalled: Bool, closed: Bool) {
        guard !finished else { return }
        finished = true
        stallTimer?.cancel()
        deadlineTimer?.cancel()
        promise.succeed(Outcome(chunksWritten: written, stalled: stalled, closed: closed))
    }
}
