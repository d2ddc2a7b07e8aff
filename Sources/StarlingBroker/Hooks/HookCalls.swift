import Logging
import NIOCore

/// One connection's calls to `BrokerHooks`: each runs off the event loop with the connection's decoding paused
/// until the answer, within `BrokerHooks.timeout`; a hook that throws or is late is taken as a denial. Made with
/// the connection's guards, only for a broker with hooks.
final class HookCalls {
    private unowned let connection: ConnectionHandler
    /// The call the connection waits for: later answers to earlier calls are ignored.
    private var pending: UInt64?
    private var serial: UInt64 = 0
    private var task: Task<Void, Never>?
    private var timeout: Scheduled<Void>?

    init(connection: ConnectionHandler) {
        self.connection = connection
    }

    /// Runs `operation` outside the event loop and `completion` back on it, with the result or a timeout
    /// error, also when the connection ended meanwhile; decoding is paused until then.
    func run<T: Sendable>(
        _ name: String, _ operation: @escaping @Sendable () async throws -> T,
        then completion: @escaping (Result<T, any Error>) -> Void
    ) {
        serial &+= 1
        let serial = self.serial
        pending = serial
        // The task and the timer hold the connection until the answer: this object only borrows it.
        let connection = self.connection
        connection.pause()
        let eventLoop = connection.loop.eventLoop
        let finish = NIOLoopBound({ [self] (result: Result<T, any Error>) in
            guard pending == serial else { return }
            pending = nil
            timeout?.cancel()
            timeout = nil
            task = nil
            if case .failure(let error) = result {
                connection.logger.warning("hook failed; denying", metadata: ["hook": "\(name)", "error": "\(error)"])
            }
            connection.continueAfterPause { completion(result) }
        }, eventLoop: eventLoop)
        task = Task {
            let result: Result<T, any Error>
            do {
                result = .success(try await operation())
            } catch {
                result = .failure(error)
            }
            guard !Task.isCancelled else { return }
            eventLoop.execute { finish.value(result) }
        }
        timeout = eventLoop.assumeIsolated().scheduleTask(in: connection.core.hooks.timeout) { [self] in
            task?.cancel()
            finish.value(.failure(HookTimedOut()))
        }
    }
}

/// A hook did not answer within `BrokerHooks.timeout`.
struct HookTimedOut: Error, CustomStringConvertible {
    var description: String { "no answer within the hook timeout" }
}
