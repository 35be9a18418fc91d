import HummingbirdCore
import Logging
import NIOCore

/// A child channel whose connection task runs on the event loop that serves its socket.
///
/// Hummingbird handles each connection in a task on Swift's global executor, so every request crossed threads
/// twice: its bytes are read on an event loop, the handler ran on a pool thread, and the answer went back to the
/// loop to be written. `perf` of a 10,000-device poll (release build) put a third of the simulator's CPU in the
/// kernel, most of it those wake-ups (`futex`, `epoll_wait`, `finish_task_switch`), and half of all samples on the
/// pool's threads. With the event loop as the task's executor preference, the connection's loop, the router and
/// the handlers run where the bytes arrive, as a NIO handler would.
///
/// A handler that blocks holds up the other connections of its loop: the fleet calls take microseconds under the
/// state's lock, and waits (latency, trickled bodies) are `Task.sleep`, which suspends. A write to a client that
/// reads as fast as it is written does not suspend, so a body written in a loop without end (`endlessBody`) yields
/// once per chunk.
struct EventLoopBoundChannel<Base: ServerChildChannel>: ServerChildChannel {
    typealias Value = Base.Value
    let base: Base

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        base.setup(channel: channel, logger: logger)
    }

    func handle(value: Value, logger: Logger) async {
        await withTaskExecutorPreference(EventLoopTaskExecutor(eventLoop: value.channel.eventLoop)) {
            await base.handle(value: value, logger: logger)
        }
    }
}

/// Runs a task's jobs on one event loop.
final class EventLoopTaskExecutor: TaskExecutor {
    let eventLoop: any EventLoop

    init(eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let executor = asUnownedTaskExecutor()
        eventLoop.execute { job.runSynchronously(on: executor) }
    }
}
