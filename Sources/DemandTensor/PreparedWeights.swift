import CKernels

/// Weights transformed once and kept from run to run: the Winograd form (U) of
/// 3x3 convolutions, which `dl_conv2d_winograd_isa_fused` would otherwise make
/// from the raw weights at every call (in ResNet-50, 256 channels at 14x14,
/// about a sixth of the layer's time), up to `limitBytes`, layers taken in the
/// order they first run.
///
/// Also the weights of products with a K a multiple of 1024, rearranged in place into
/// the order the GEMM reads them (see `slicedWeights`), at no cost in memory.
///
/// Only for weights that neither move nor change while it lives: a resident
/// session's (the pipeline sets one on its workspace for the resident policy
/// alone; the other policies reuse their buffers for other layers). Entries
/// are keyed by the weights' address and the filters' shape. They take 16/9
/// of those layers' weights (a little more: each run of channels is padded),
/// counted as kernel scratch (`dl_kernel_scratch_bytes`) until the cache is
/// released with its workspace.
/// Execute thread only, like the workspace that holds it.
public final class PreparedWeights {
    private struct Key: Hashable {
        let weight: UnsafePointer<Float>
        let filters: Int32
        let channels: Int32
        /// The Winograd variant (`dl_conv2d_winograd_variant`: 2 or 4) the form was made for; 0 for the slice layout.
        var variant: Int32 = 0
    }

    private var winograd: [Key: (u: UnsafeMutablePointer<Float>, geometry: DLConvGeometry)] = [:]
    /// Weights rearranged in place into CKernels' slice layout (`filters` rows of `channels`: the product's K).
    private var sliced: Set<Key> = []
    /// Whether the weight of the node about to run is read by that node alone, so that it may be
    /// rearranged in place (`slicedWeights`). The pipeline sets it before each node.
    public var weightIsExclusive = false
    /// The most bytes the cache holds: once full, further layers transform per call.
    public let limitBytes: Int
    /// Bytes the cache holds.
    public private(set) var byteCount = 0

    /// An empty cache that holds at most `limitBytes`.
    public init(limitBytes: Int) { self.limitBytes = limitBytes }

    deinit {
        for (key, form) in winograd {
            var geometry = form.geometry
            dl_conv2d_winograd_release(&geometry, key.filters, form.u)
        }
    }

    /// A 3x3 stride-1 geometry over `channels` input channels with `height` x `width` outputs (padding 1).
    static func filterGeometry(channels: Int32, height: Int32, width: Int32) -> DLConvGeometry {
        DLConvGeometry(channels: channels, in_height: height, in_width: width, kernel_height: 3, kernel_width: 3, stride_height: 1,
                       stride_width: 1, dilation_height: 1, dilation_width: 1, pad_top: 1, pad_left: 1, out_height: height,
                       out_width: width)
    }

    /// Bytes the Winograd form of `filters` 3x3 filters takes for `geometry` (its channels and variant).
    static func winogradByteCount(geometry: DLConvGeometry, filters: Int) -> Int {
        var geometry = geometry
        return Int(dl_conv2d_winograd_prepared_floats(&geometry, Int32(filters))) * MemoryLayout<Float>.stride
    }

    /// Whether `weight` (`filters` rows of `depth`, a product's A with `columns` columns) is in CKernels'
    /// slice layout (`dl_sgemm_sliced_wanted`: K a multiple of 1024), rearranged in place the first time the
    /// layout pays and the weight is the running node's alone (`weightIsExclusive`). Costs no memory (the
    /// rearranging moves the weight's 1 KiB blocks in place): the weight's bytes are the layout from then on,
    /// so only `dl_sgemm_isa_fused_sliced` and `dl_conv2d_gemm_isa_fused_sliced` may read them. The same bits.
    func slicedWeights(_ weight: UnsafePointer<Float>, filters: Int32, depth: Int32, columns: Int32) -> Bool {
        let key = Key(weight: weight, filters: filters, channels: depth)
        if sliced.contains(key) { return true }
        guard weightIsExclusive, dl_sgemm_sliced_wanted(filters, columns, depth) != 0,
              dl_sgemm_sliced_from_rows(filters, depth, UnsafeMutablePointer(mutating: weight)) == 0 else { return false }
        sliced.insert(key)
        return true
    }

    /// Weights held in the slice layout.
    public var slicedCount: Int { sliced.count }

    /// The Winograd form of `filters` 3x3 filters at `weight` (for `geometry`'s
    /// channels), made on first use; nil if it could not be allocated (the
    /// caller then transforms per call).
    func winograd(weight: UnsafePointer<Float>, geometry: DLConvGeometry, filters: Int32) -> UnsafePointer<Float>? {
        var geometry = geometry
        // The form's size and layout depend on the variant, which depends on the image: a weight applied to
        // images of two sizes may need two forms.
        let key = Key(weight: weight, filters: filters, channels: geometry.channels, variant: dl_conv2d_winograd_variant(&geometry))
        if let form = winograd[key] { return UnsafePointer(form.u) }
        let bytes = Self.winogradByteCount(geometry: geometry, filters: Int(filters))
        guard byteCount + bytes <= limitBytes, let u = dl_conv2d_winograd_prepare(&geometry, filters, weight) else { return nil }
        winograd[key] = (u, geometry)
        byteCount += bytes
        return UnsafePointer(u)
    }
}
