import DemandTestSupport
import Foundation
import Testing

/// End-to-end: the built `demandlayer` binary, as a user runs it.
@Suite struct CLITests {
    static let binary: String? = {
        let candidates = [
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().path,
            Bundle.main.bundleURL.deletingLastPathComponent().path,
            Bundle.main.bundlePath,
            Scratch.packageRoot + "/.build/debug",
        ]
        return candidates.map { $0 + "/demandlayer" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }()

    struct Result { var status: Int32; var stdout: String; var stderr: String }

    /// Runs the binary with `arguments`, its environment this process's plus `environment`.
    func run(_ arguments: [String], environment: [String: String] = [:]) throws -> Result {
        let binary = try #require(Self.binary, "the demandlayer binary is built beside the tests")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self), stderr: String(decoding: stderr, as: UTF8.self))
    }

    @Test func benchJSONHasExactlyTheDocumentedKeys() throws {
        let result = try run(["bench", "--model", Scratch.tinyModelPath, "--runs", "2", "--depth", "1,2", "--json", "--threads", "1"])
        #expect(result.status == 0, "\(result.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any], "stdout is one JSON object")
        #expect(Set(object.keys) == ["model", "io", "cpu", "results", "summary"])
        let cpu = try #require(object["cpu"] as? [String: Any])
        #expect(Set(cpu.keys) == ["name", "gemm"])
        #expect(["avx512", "avx2", "openblas"].contains(cpu["gemm"] as? String ?? ""))
        let model = try #require(object["model"] as? [String: Any])
        #expect(Set(model.keys) == ["name", "layers", "weight_bytes", "largest_layer_bytes"])
        #expect(model["name"] as? String == "tiny")
        let io = try #require(object["io"] as? [String: Any])
        #expect(Set(io.keys) == ["engine", "direct"])
        #expect(io["direct"] as? Bool == true)
        let results = try #require(object["results"] as? [[String: Any]])
        #expect(results.count == 8, "resident, bulk, linear, deepeye, partial, pipelined ×2 depths, mmap")
        for entry in results {
            #expect(Set(entry.keys) == ["policy", "depth", "budget_bytes", "latency_ms", "peak_rss_bytes", "peak_kernel_scratch_bytes", "peak_weight_bytes", "bytes_read"])
            let latency = try #require(entry["latency_ms"] as? [String: Double])
            #expect(Set(latency.keys) == ["min", "median", "max"])
            #expect(latency["min"]! <= latency["median"]! && latency["median"]! <= latency["max"]!)
            #expect((entry["peak_rss_bytes"] as? Int ?? 0) > 0)
        }
        #expect(results.filter { $0["policy"] as? String == "pipelined" }.compactMap { $0["depth"] as? Int } == [1, 2])
        let summary = try #require(object["summary"] as? [String: Any])
        #expect(Set(summary.keys) == ["io_only_ms", "bound_ms", "efficiency", "overhead_pct", "memory_reduction_pct"])
        #expect((summary["memory_reduction_pct"] as? Double ?? 0) > 0)
        #expect(result.stderr.contains("round 1/2"), "progress goes to stderr")
    }

    /// DEMANDLAYER_CPU narrows the GEMM path (on a CPU that has the path asked
    /// for); an unknown value or one above the CPU's is ignored with one
    /// warning line, and the run still succeeds.
    @Test func demandlayerCPUChoosesTheGEMMPath() throws {
        func gemm(_ value: String) throws -> (path: String, stderr: String) {
            let result = try run(["bench", "--model", Scratch.tinyModelPath, "--runs", "1", "--policies", "resident", "--json"],
                                 environment: ["DEMANDLAYER_CPU": value, "DEMANDLAYER_PORTABLE_KERNELS": "0"])
            #expect(result.status == 0, "DEMANDLAYER_CPU=\(value): \(result.stderr)")
            let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
            let path = (object?["cpu"] as? [String: Any])?["gemm"] as? String
            return (path ?? "none", result.stderr)
        }
        let widest = try gemm("")
        #expect(!widest.stderr.contains("DEMANDLAYER_CPU"))
        let portable = try gemm("portable")
        #expect(portable.path == "openblas")
        #expect(!portable.stderr.contains("warning"))
        let bogus = try gemm("sse9")
        #expect(bogus.path == widest.path)
        #expect(bogus.stderr.components(separatedBy: "\n").filter { $0.contains("DEMANDLAYER_CPU=sse9 ignored") }.count == 1, "\(bogus.stderr)")
        switch widest.path {
        case "avx512":
            #expect(try gemm("avx2").path == "avx2")
            #expect(try gemm("avx512").path == "avx512")
        case "avx2":
            let avx512 = try gemm("avx512")
            #expect(avx512.path == "avx2")
            #expect(avx512.stderr.contains("DEMANDLAYER_CPU=avx512 ignored: this CPU has only avx2"))
        default:
            let avx2 = try gemm("avx2")
            #expect(avx2.path == "openblas")
            #expect(avx2.stderr.contains("DEMANDLAYER_CPU=avx2 ignored"))
        }
    }

    @Test func benchTableAndTrace() throws {
        let trace = Scratch.directory() + "/trace.json"
        let result = try run(["bench", "--model", Scratch.tinyModelPath, "--runs", "1", "--policies", "resident,linear,bulk,pipelined", "--trace", trace])
        #expect(result.status == 0, "\(result.stderr)")
        for word in ["policy", "resident", "pipelined", "efficiency", "io_only_ms", "bit-identical"] {
            #expect(result.stdout.contains(word), "table lacks '\(word)'")
        }
        let events = try #require((try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: trace))) as? [String: Any])?["traceEvents"] as? [[String: Any]])
        let threads = Set(events.compactMap { ($0["args"] as? [String: Any])?["name"] as? String })
        #expect(threads == ["dl-read", "dl-restore", "dl-exec"])
        #expect(events.contains { $0["cat"] as? String == "restore" })
    }

    @Test func badArgumentsAreExplained() throws {
        let zero = try run(["bench", "--model", Scratch.tinyModelPath, "--depth", "0"])
        #expect(zero.status != 0)
        #expect(zero.stderr.contains("--depth must be at least 1"))
        let small = try run(["bench", "--model", Scratch.tinyModelPath, "--budget", "4096", "--policies", "pipelined"])
        #expect(small.status != 0)
        #expect(small.stderr.contains("smallest budget this model runs in"), "a planned budget below the least names it: \(small.stderr)")
        let missing = try run(["bench", "--model", Scratch.directory() + "/none.dlm"])
        #expect(missing.status != 0)
        #expect(missing.stderr.contains("none.dlm"))
    }

    @Test func helpTeaches() throws {
        let help = try run(["bench", "--help"])
        for word in ["--depth", "--budget", "--policies", "--io", "--json", "--trace", "efficiency", "memory_reduction_pct"] {
            #expect(help.stdout.contains(word), "bench --help lacks '\(word)'")
        }
    }

    @Test func zooMakeWritesAModel() throws {
        let directory = Scratch.directory()
        let result = try run(["zoo", "make", "tiny", "--out", directory])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(FileManager.default.fileExists(atPath: directory + "/tiny.dlm/manifest.json"))
        #expect(result.stderr.contains("100%"))
        let unknown = try run(["zoo", "make", "resnet9000", "--out", directory])
        #expect(unknown.status != 0 && unknown.stderr.contains("resnet152"))
    }
}
