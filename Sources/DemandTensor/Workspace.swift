/// Scratch memory the kernels borrow for the length of one `execute` call
/// (im2col columns for convolution, for now).
///
/// Ownership, lifetime and threads: a workspace owns one 64-byte-aligned
/// block that grows on demand and is never shrunk, so once it has seen the
/// largest layer of a model it allocates nothing more. It is not thread-safe:
/// each thread that executes operators owns its own workspace, and no two
/// `execute` calls may use the same workspace at the same time. The pointer a
/// kernel gets from `floats(_:)` is valid until that workspace's next
/// `floats(_:)` or `reserve(floatCount:)` call; contents are not preserved or
/// zeroed between calls.
public final class Workspace {
    private var base: UnsafeMutablePointer<Float>?
    /// Floats the current block holds.
    public private(set) var floatCapacity = 0
    /// How many times the block has been (re)allocated; a steady state adds none.
    public private(set) var allocationCount = 0
    /// The most floats one im2col band of a convolution may take: 8 MiB by
    /// default. Smaller bands mean more, smaller sgemm calls.
    var columnBudgetFloats = Workspace.defaultColumnBudgetFloats
    static let defaultColumnBudgetFloats = 1 << 21
    /// The GEMM convolutions and Gemm use: `.best` normally; tests set `.openBLAS` to
    /// run the im2col path (which uses this workspace) on AVX2, AVX-512 and
    /// ARM64 machines, or `.avx2` to run that kernel set on an AVX-512 machine.
    var gemmPath = BLAS.Path.best
    /// Transformed weights kept from run to run, for weights that stay put
    /// (a resident session's); nil: transformed at every call.
    public var preparedWeights: PreparedWeights?

    /// An empty workspace; it grows on first use.
    public init() {}

    /// A workspace already holding `floatCount` floats, so the first run does not allocate.
    public convenience init(floatCount: Int) {
        self.init()
        reserve(floatCount: floatCount)
    }

    deinit { base.map { UnsafeMutableRawPointer($0).deallocate() } }

    /// Bytes currently allocated.
    public var byteCount: Int { floatCapacity * MemoryLayout<Float>.stride }

    /// Grows the block to at least `floatCount` floats.
    public func reserve(floatCount: Int) {
        guard floatCount > floatCapacity else { return }
        base.map { UnsafeMutableRawPointer($0).deallocate() }
        let raw = UnsafeMutableRawPointer.allocate(byteCount: floatCount * MemoryLayout<Float>.stride, alignment: 64)
        base = raw.bindMemory(to: Float.self, capacity: floatCount)
        floatCapacity = floatCount
        allocationCount += 1
    }

    /// At least `count` uninitialized floats, valid until the next call on this workspace.
    func floats(_ count: Int) -> UnsafeMutablePointer<Float> {
        reserve(floatCount: max(count, 1))
        return base!
    }
}
