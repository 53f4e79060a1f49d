import CURing

/// CRC-32C (Castagnoli), computed with the SSE4.2 instruction where the CPU has it.
public enum CRC32C {
    /// The checksum of `bytes`, continuing from `previous` (0 to start).
    public static func checksum(_ bytes: UnsafeRawBufferPointer, continuing previous: UInt32 = 0) -> UInt32 {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return previous }
        return dl_crc32c_update(previous, base, bytes.count)
    }

    /// The checksum of A followed by B, given A's checksum, B's checksum and B's length.
    public static func combine(_ first: UInt32, _ second: UInt32, secondByteCount: Int) -> UInt32 {
        dl_crc32c_combine(first, second, secondByteCount)
    }
}
