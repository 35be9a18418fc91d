#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Runs `body` on a thread of its own with a 512 MiB stack, and waits for it (joins it).
///
/// The parser and the checks recurse once per nesting level, and nesting is bounded (`Parser.maxDepth`);
/// debug builds spend tens of kilobytes of stack per level, more than a default thread has for 256 levels.
/// The stack is only reserved address space: pages are touched only as deep as a rule actually nests.
/// A plain joined pthread (not Foundation's `Thread`) so that nothing of the run outlives the call.
func withLargeStack<T>(_ body: () -> T) -> T {
    withoutActuallyEscaping(body) { body in
        var result: T?
        // The job runs on the other thread while this one is blocked in `pthread_join`, so `result` is never
        // touched by two threads at once; the job is released on that thread before the join returns.
        let job = LargeStackJob { result = body() }
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        defer { pthread_attr_destroy(&attributes) }
        pthread_attr_setstacksize(&attributes, 512 << 20)
        #if canImport(Glibc)
        var thread = pthread_t()
        #else
        var thread: pthread_t?
        #endif
        let context = Unmanaged.passRetained(job).toOpaque()
        let started = pthread_create(
            &thread, &attributes,
            { context in
                Unmanaged<LargeStackJob>.fromOpaque(context!).takeRetainedValue().run()
                return nil
            }, context)
        if started == 0 {
            #if canImport(Glibc)
            pthread_join(thread, nil)
            #else
            pthread_join(thread!, nil)
            #endif
        } else {
            // No thread to be had: run here, with this thread's stack.
            Unmanaged<LargeStackJob>.fromOpaque(context).takeRetainedValue().run()
        }
        return result!
    }
}

/// The work handed to the large-stack thread through a C callback's context pointer.
private final class LargeStackJob {
    let run: () -> Void

    init(_ run: @escaping () -> Void) { self.run = run }
}
