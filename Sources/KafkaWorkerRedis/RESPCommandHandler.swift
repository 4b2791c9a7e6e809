import NIOCore

/// Pipelined commands: sent in order, answered in order. A request carries one or more commands and completes
/// with their replies. When the connection closes or fails, every waiting request fails.
final class RESPCommandHandler: ChannelDuplexHandler {
    typealias InboundIn = RESPValue
    typealias OutboundIn = Request
    typealias OutboundOut = ByteBuffer

    struct Request {
        var commands: [[String]]
        var promise: EventLoopPromise<[RESPValue]>
    }

    private struct Waiting {
        var expected: Int
        var replies: [RESPValue]
        var promise: EventLoopPromise<[RESPValue]>
    }

    private var waiting = CircularBuffer<Waiting>()

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let request = unwrapOutboundIn(data)
        var buffer = context.channel.allocator.buffer(capacity: 64 * request.commands.count)
        for command in request.commands { RESPEncoder.encode(command, into: &buffer) }
        waiting.append(Waiting(expected: request.commands.count, replies: [], promise: request.promise))
        context.write(wrapOutboundOut(buffer), promise: promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let value = unwrapInboundIn(data)
        guard !waiting.isEmpty else {
            context.fireErrorCaught(RedisProtocolError(message: "a reply arrived that no command asked for"))
            return
        }
        waiting[waiting.startIndex].replies.append(value)
        if waiting[waiting.startIndex].replies.count == waiting[waiting.startIndex].expected {
            let done = waiting.removeFirst()
            done.promise.succeed(done.replies)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        failAll(RedisConnectionClosed())
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        failAll(error)
        context.close(promise: nil)
    }

    private func failAll(_ error: any Error) {
        while let next = waiting.popFirst() { next.promise.fail(error) }
    }
}

struct RedisConnectionClosed: Error, CustomStringConvertible {
    var description: String { "the connection to Redis closed" }
}
