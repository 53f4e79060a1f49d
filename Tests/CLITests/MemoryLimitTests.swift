import DemandFormat
import DemandTestSupport
import DemandZoo
import Foundation
import Testing

/// The memory budget under a real limit: the built CLI runs the built-in
/// resnet152 (230 MiB of weights) in a memory cgroup limited to 96 MiB.
/// `pipelined` must finish with the same output as an unlimited run; `bulk`,
/// which holds every weight, must be killed by the kernel.
///
/// Needs the cgroup v1 memory controller writable (root, /sys/fs/cgroup/memory);
/// skipped with the reason otherwise, and under the sanitizers, whose shadow
/// memory is charged to the group too.
@Suite struct MemoryLimitTests {
    static let controller = "/sys/fs/cgroup/memory"
    static let limitBytes = 96 << 20

    /// Why the test cannot run here, or nil.
    static let unavailableReason: String? = {
        if dlsym(nil, "__tsan_init") != nil || dlsym(nil, "__asan_init") != nil {
            return "built with a sanitizer, whose shadow memory would count against the limit"
        }
        let probe = "\(controller)/demandlayer-probe-\(getpid())"
        guard mkdir(probe, 0o755) == 0 else {
            return "cannot make a memory cgroup under \(controller) (\(String(cString: strerror(errno)))): needs the cgroup v1 memory controller and root"
        }
        defer { rmdir(probe) }
        guard FileManager.default.isWritableFile(atPath: probe + "/memory.limit_in_bytes") else {
            return "\(probe)/memory.limit_in_bytes is not writable"
        }
        return nil
    }()

    /// A child memory cgroup with a limit, removed by `remove()`.
    struct Group {
        let path: String

        init(limitBytes: Int) throws {
            path = "\(MemoryLimitTests.controller)/demandlayer-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
            guard mkdir(path, 0o755) == 0 else { throw CocoaError(.fileWriteUnknown) }
            try String(limitBytes).write(toFile: path + "/memory.limit_in_bytes", atomically: false, encoding: .utf8)
        }

        func value(_ file: String) -> Int {
            Int(((try? String(contentsOfFile: path + "/" + file, encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
        }

        func resetPeak() { try? "0".write(toFile: path + "/memory.max_usage_in_bytes", atomically: false, encoding: .utf8) }

        func remove() { rmdir(path) }
    }

    struct Outcome {
        var status: Int32
        var killedBySignal: Bool
        var stderr: String
    }

    /// Runs the CLI, inside `group` when given (a shell joins the group, then execs the CLI).
    func runCLI(_ arguments: [String], in group: Group? = nil) throws -> Outcome {
        let binary = try #require(CLITests.binary, "the demandlayer binary is built beside the tests")
        let process = Process()
        if let group {
            process.executableURL = URL(fileURLWithPath: "/bin/sh")
            process.arguments = ["-c", "echo $$ > \"$0/cgroup.procs\" && exec \"$@\"", group.path, binary] + arguments
        } else {
            process.executableURL = URL(fileURLWithPath: binary)
            process.arguments = arguments
        }
        let err = Pipe()
        process.standardError = err
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Outcome(status: process.terminationStatus, killedBySignal: process.terminationReason == .uncaughtSignal,
                       stderr: String(decoding: stderr, as: UTF8.self))
    }

    @Test(.enabled(if: unavailableReason == nil, Comment(rawValue: unavailableReason ?? "")))
    func pipelinedFinishesUnderALimitBulkIsKilled() throws {
        let directory = Scratch.directory()
        let input = directory + "/input.npy"
        var random = SeededRandom(seed: 3)
        try Npy.write(path: input, shape: [1, 3, 224, 224], values: (0..<(3 * 224 * 224)).map { _ in random.next(in: 0, 1) })
        // Unlimited first: makes the model if it is not in the cache yet, and gives the expected output.
        let reference = try runCLI(["run", "resnet152", "--input", "input=\(input)", "--output", directory + "/resident", "--policy", "resident"])
        try #require(reference.status == 0, "\(reference.stderr)")
        let expected = try Data(contentsOf: URL(fileURLWithPath: directory + "/resident/softmax0.out.npy"))

        let group = try Group(limitBytes: Self.limitBytes)
        defer { group.remove() }
        #expect(group.value("memory.limit_in_bytes") == Self.limitBytes)

        let pipelined = try runCLI(["run", "resnet152", "--input", "input=\(input)", "--output", directory + "/pipelined", "--policy", "pipelined", "--depth", "2"], in: group)
        let pipelinedPeak = group.value("memory.max_usage_in_bytes")
        #expect(pipelined.status == 0 && !pipelined.killedBySignal, "pipelined under \(Self.limitBytes >> 20) MiB: \(pipelined.stderr)")
        let output = try? Data(contentsOf: URL(fileURLWithPath: directory + "/pipelined/softmax0.out.npy"))
        #expect(output == expected, "pipelined under the limit gives the unlimited run's output, bit for bit")

        // A planned budget of 5% of the weights (the last stage's 9 MiB convs and the 7.8 MiB classifier
        // are read in pieces; the first planned run measures the model's profile, under the limit too).
        group.resetPeak()
        let planned = try runCLI(["run", "resnet152", "--input", "input=\(input)", "--output", directory + "/planned", "--budget", "12MiB"], in: group)
        let plannedPeak = group.value("memory.max_usage_in_bytes")
        #expect(planned.status == 0 && !planned.killedBySignal, "a 12 MiB budget under \(Self.limitBytes >> 20) MiB: \(planned.stderr)")
        let plannedOutput = try? Data(contentsOf: URL(fileURLWithPath: directory + "/planned/softmax0.out.npy"))
        #expect(plannedOutput == expected, "a planned budget under the limit gives the unlimited run's output, bit for bit")

        group.resetPeak()
        let bulk = try runCLI(["run", "resnet152", "--input", "input=\(input)", "--output", directory + "/bulk", "--policy", "bulk"], in: group)
        #expect(bulk.killedBySignal && bulk.status == SIGKILL, "bulk holds all 230 MiB of weights and must be killed (status \(bulk.status))")
        #expect(group.value("memory.failcnt") > 0, "the group hit its limit")
        print("memory limit \(Self.limitBytes >> 20) MiB: pipelined exited \(pipelined.status), group peak \(pipelinedPeak >> 20) MiB; budget 12 MiB exited \(planned.status), group peak \(plannedPeak >> 20) MiB; bulk killed by signal \(bulk.status)")
    }
}
