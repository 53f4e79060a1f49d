import CKernels

/// Elementwise passes split across the GEMM's pool threads (`BLAS.setThreadCount`):
/// each range touches only its own elements, and the ranges depend on the
/// count alone, so any thread count gives the same bits.
enum ParallelRanges {
    /// Elements per range: large enough that a range costs far more than
    /// handing it out, small enough that two threads share a 200K-element pass evenly.
    static let grain = 16384

    /// Passes shorter than this run on the calling thread.
    static let threshold = 2 * grain

    /// Calls `body(start, end)` for consecutive ranges of [0, count), each
    /// `grain` long, on the caller and the pool's threads, and returns when
    /// all have returned; on the caller alone when `count` is below `minimum`.
    static func run(count: Int, grain: Int = grain, minimum: Int = threshold, _ body: (Int, Int) -> Void) {
        guard count >= minimum, count > grain else {
            if count > 0 { body(0, count) }
            return
        }
        // The body travels to the pool's threads through a pointer to a stack value: nothing is allocated
        // per pass (these passes run inside the execute loop).
        withoutActuallyEscaping(body) { body in
            var call = Call(body: body)
            withUnsafeMutablePointer(to: &call) { pointer in
                dl_parallel_ranges(count, grain, { context, start, end in
                    context!.assumingMemoryBound(to: Call.self).pointee.body(start, end)
                }, pointer)
            }
        }
    }

    /// `run` over `count` planes of `planeFloats` each: ranges of whole planes
    /// about `grain` floats long, split when there are at least `threshold` floats.
    static func planes(_ count: Int, planeFloats: Int, _ body: (Int, Int) -> Void) {
        let floats = max(planeFloats, 1)
        run(count: count, grain: max(1, grain / floats), minimum: (threshold + floats - 1) / floats, body)
    }

    private struct Call {
        let body: (Int, Int) -> Void
    }
}
