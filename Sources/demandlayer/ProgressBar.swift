import Foundation

/// A progress bar on standard error: redrawn in place on a terminal, a line
/// per 10% otherwise (so logs stay readable). Standard output is never touched.
final class ProgressBar {
    private let label: String
    private let isTerminal = isatty(STDERR_FILENO) != 0
    private var lastDecile = -1
    private var lastDraw: UInt64 = 0

    init(label: String) { self.label = label }

    func update(done: Int, total: Int) {
        let fraction = total > 0 ? min(1, Double(done) / Double(total)) : 1
        if isTerminal {
            let now = DispatchTime.now().uptimeNanoseconds
            guard now - lastDraw > 50_000_000 || fraction >= 1 else { return }
            lastDraw = now
            let width = 30
            let filled = Int(fraction * Double(width))
            let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
            FileHandle.standardError.write("\r\(label) [\(bar)] \(String(format: "%3.0f", fraction * 100))% \(formatMiB(done)) / \(formatMiB(total))".data(using: .utf8)!)
        } else {
            let decile = Int(fraction * 10)
            guard decile > lastDecile else { return }
            lastDecile = decile
            FileHandle.standardError.write("\(label): \(decile * 10)% (\(formatMiB(done)) / \(formatMiB(total)))\n".data(using: .utf8)!)
        }
    }

    func finish(note: String) {
        FileHandle.standardError.write(((isTerminal ? "\n" : "") + "\(label): done, \(note)\n").data(using: .utf8)!)
    }
}

/// A status line on standard error.
func status(_ message: String) {
    FileHandle.standardError.write((message + "\n").data(using: .utf8)!)
}
