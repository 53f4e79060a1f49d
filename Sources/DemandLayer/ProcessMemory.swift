import CKernels
import CURing
import Foundation

/// The process's resident memory, from /proc/self/status.
package enum ProcessMemory {
    /// Peak resident set size (VmHWM) in bytes since start or since the last `resetPeak()`.
    package static var peakResidentBytes: Int { statusField("VmHWM:") ?? 0 }

    /// The most bytes the kernels' own scratch (packing, transform and band
    /// buffers, per thread and per call; outside every budget) held at once
    /// since start or since the last `resetPeak()`.
    package static var peakKernelScratchBytes: Int { dl_kernel_scratch_peak_bytes() }

    /// Returns freed heap to the kernel, then resets the peak to the current
    /// resident size (writes 5 to /proc/self/clear_refs) and the kernel
    /// scratch peak to what is held now.
    /// Returns false where the kernel does not allow it; the peak then covers
    /// the whole process lifetime.
    @discardableResult
    package static func resetPeak() -> Bool {
        dl_release_free_heap()
        dl_kernel_scratch_reset_peak()
        let fd = open("/proc/self/clear_refs", O_WRONLY)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        return write(fd, "5", 1) == 1
    }

    private static func statusField(_ key: String) -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix(key) {
            let digits = line.dropFirst(key.count).split(whereSeparator: { $0 == " " || $0 == "\t" }).first.flatMap { Int($0) }
            return digits.map { $0 * 1024 }
        }
        return nil
    }
}
