import HummingbirdCore
import Logging
import NIOCore
import Synchronization

/// How many HTTP connections are open, against a cap. Shared by every child channel of one server.
final class ConnectionGate: Sendable {
    let limit: Int
    private let open = Atomic<Int>(0)

    init(limit: Int) { self.limit = limit }

    /// Takes a slot, or returns false when all `limit` are taken.
    func tryEnter() -> Bool {
        var current = open.load(ordering: .relaxed)
        while current < limit {
            let (exchanged, original) = open.compareExchange(expected: current, desired: current + 1,
                                                             ordering: .acquiringAndReleasing)
            if exchanged { return true }
            current = original
        }
        return false
    }

    func leave() { open.subtract(1, ordering: .acquiringAndReleasing) }

    var count: Int { open.load(ordering: .acquiring) }
}

/// Hummingbird's HTTP/1 child channel behind a connection cap: a connection beyond `gate.limit` open ones gets a
/// `503` and is closed, without an HTTP pipeline, instead of being served.
///
/// Why not Hummingbird's own `availableConnectionsDelegate`: that one stops accepting, so connections beyond the
/// cap wait silently in the kernel's backlog (and then time out) rather than hearing that the daemon is busy.
struct LimitedHTTP1Channel: ServerChildChannel {
    struct Value: ServerChildChannelValue {
        let channel: any Channel
        /// nil for a refused connection: it answers and closes by itself.
        let http: HTTP1Channel.Value?
    }

    let base: HTTP1Channel
    let gate: ConnectionGate

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        guard gate.tryEnter() else {
            logger.debug("HTTP connection refused: \(gate.limit) open already")
            return channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(RefuseConnectionHandler())
                return Value(channel: channel, http: nil)
            }
        }
        let gate = self.gate
        return base.setup(channel: channel, logger: logger)
            .map { http in
                // Only a channel that was set up gets registered and so ever closes: count it out on that close.
                channel.closeFuture.whenComplete { _ in gate.leave() }
                return Value(channel: channel, http: http)
            }
            .flatMapErrorThrowing { error in
                gate.leave()
                throw error
            }
    }

    func handle(value: Value, logger: Logger) async {
        guard let http = value.http else { return }
        await base.handle(value: http, logger: logger)
    }
}

/// Answers `503 Service Unavailable` at once and closes, reading nothing as HTTP.
///
/// The close is a lingering one: the answer, then a half-close (FIN after the answer), then whatever the client
/// sends is discarded until it closes its side or `grace` passes. Closing at once while request bytes sit unread
/// would reset the connection, and a reset can destroy the answer before the client reads it.
final class RefuseConnectionHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    static let body = "too many connections; retry shortly\n"
    static let response = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n"
        + "Content-Length: \(body.utf8.count)\r\nConnection: close\r\nRetry-After: 1\r\n\r\n" + body

    private let grace: TimeAmount
    private var answered = false
    private var timer: Scheduled<Void>?

    init(grace: TimeAmount = .seconds(2)) { self.grace = grace }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { answer(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        answer(context)
        context.fireChannelActive()
    }

    private func answer(_ context: ChannelHandlerContext) {
        guard !answered else { return }
        answered = true
        let buffer = context.channel.allocator.buffer(string: Self.response)
        context.writeAndFlush(wrapOutboundOut(buffer)).assumeIsolated().whenComplete { _ in
            context.close(mode: .output, promise: nil)
        }
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: grace) { context.close(promise: nil) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // Discarded: this connection is not served.
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed {
            context.close(promise: nil)  // the client has read the answer and closed
        } else if event is ChannelShouldQuiesceEvent {
            context.close(promise: nil)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
