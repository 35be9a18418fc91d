import Foundation

/// Runs `body` on a thread of its own with a 512 MiB stack, and waits for it.
///
/// The parser and the checks recurse once per nesting level, and nesting is bounded (`Parser.maxDepth`);
/// debug builds spend tens of kilobytes of stack per level, more than a default thread has for 256 levels.
/// The stack is only reserved address space: pages are touched only as deep as a rule actually nests.
func withLargeStack<T>(_ body: () -> T) -> T {
    let box = LargeStackBox<T>()
    let done = DispatchSemaphore(value: 0)
    withoutActuallyEscaping(body) { body in
        box.body = body
        let thread = Thread {
            box.result = box.body!()
            // Drop the closure before waking the caller: it must not outlive `withoutActuallyEscaping`.
            box.body = nil
            done.signal()
        }
        thread.stackSize = 512 << 20
        thread.start()
        done.wait()
    }
    return box.result!
}

/// Hands a closure and its result between the caller and the large-stack thread.
///
/// `@unchecked Sendable` is safe because the two threads never touch it at the same time: the caller writes
/// `body` before starting the thread and reads `result` only after the semaphore says the thread is done;
/// the thread writes `result` and clears `body` before signalling.
private final class LargeStackBox<T>: @unchecked Sendable {
    var body: (() -> T)?
    var result: T?
}
