import Dispatch

/// A serial executor running jobs on a private dispatch queue.
///
/// SQLite calls block (disk I/O, and up to the busy timeout while another connection writes). Running the
/// ``Store`` actor here keeps those waits off Swift's cooperative thread pool, which has one thread per core.
///
/// `@unchecked Sendable` is safe because:
/// - its only stored property, `queue`, is a `DispatchQueue`, which is thread-safe and never reassigned;
/// - `enqueue` only submits work to that queue, which runs it serially, as `SerialExecutor` requires.
final class QueueExecutor: SerialExecutor, @unchecked Sendable {
    private let queue: DispatchQueue

    init(label: String) {
        queue = DispatchQueue(label: label)
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        queue.async { job.runSynchronously(on: self.asUnownedSerialExecutor()) }
    }
}
