import DemandTestSupport
import Foundation
import Testing

/// `demandlayer plan` and `bench --budget`: planned pipelined sessions, end to end.
///
/// The tiny model (440 KiB; its largest layer, 220 KiB, cannot be split, so
/// the least budget is 220 KiB) plans with no resident layer at 256 KiB, some
/// at 300 KiB, and every layer at 1 MiB. Each test that may save a profile
/// works on its own copy, so the shared model's directory is left as made.
@Suite struct PlanCommandTests {
    let cli = CLITests()

    @Test func planPrintsHowTheBudgetIsSpent() throws {
        let model = Scratch.tinyCopy()
        let first = try cli.run(["plan", model, "--budget", "300K,1MiB", "--threads", "1"])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stderr.contains("profiling tiny (once; saved to \(model)/profile.json)"), "\(first.stderr)")
        #expect(FileManager.default.fileExists(atPath: model + "/profile.json"))
        for word in ["budget     300.0 KiB", "budget     1.0 MiB", "ring", "held", "predicted", "resident   8 layers", "wide0", "split      0 layers", "read ", "GB/s", "cpu "] {
            #expect(first.stdout.contains(word), "plan lacks '\(word)':\n\(first.stdout)")
        }
        let again = try cli.run(["plan", model, "--budget", "256K", "--threads", "1", "--json"])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(!again.stderr.contains("profiling"), "the saved profile is used: \(again.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(again.stdout.utf8)) as? [String: Any])
        #expect(Set(object.keys) == ["model", "profile", "plans"])
        let plans = try #require(object["plans"] as? [[String: Any]])
        #expect(plans.count == 1)
        #expect(Set(plans[0].keys) == ["budget_bytes", "resident_layers", "split_layers", "ring_bytes", "held_bytes", "predicted_ms"])
        #expect(plans[0]["budget_bytes"] as? Int == 256 << 10)
        #expect((plans[0]["ring_bytes"] as? Int ?? 0) + (plans[0]["held_bytes"] as? Int ?? 0) <= 256 << 10, "the plan stays within its budget")
        #expect((plans[0]["predicted_ms"] as? Double ?? 0) > 0)
    }

    @Test func planBelowTheLeastBudgetFails() throws {
        let model = Scratch.tinyCopy()
        let result = try cli.run(["plan", model, "--budget", "4096", "--threads", "1"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("smallest budget this model runs in: 225280 bytes"), "the error names the least budget: \(result.stderr)")
        let missing = try cli.run(["plan", model])
        #expect(missing.status != 0 && missing.stderr.contains("--budget is required"))
    }

    @Test func benchBudgetListGivesOnePlannedRowPerBudget() throws {
        let model = Scratch.tinyCopy()
        let result = try cli.run(["bench", "--model", model, "--budget", "256K,1MiB", "--json", "--runs", "1",
                                  "--policies", "resident,pipelined", "--threads", "1"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("profiling tiny for the planner"), "one fresh profile before the rounds: \(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: model + "/profile.json"), "the bench's profile is not saved")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let results = try #require(object["results"] as? [[String: Any]])
        #expect(results.count == 3, "resident, pipelined ×2 budgets")
        let pipelined = results.filter { $0["policy"] as? String == "pipelined" }
        #expect(pipelined.compactMap { $0["budget_bytes"] as? Int } == [256 << 10, 1 << 20])
        for entry in pipelined {
            #expect(Set(entry.keys) == ["policy", "depth", "budget_bytes", "latency_ms", "peak_rss_bytes", "peak_kernel_scratch_bytes", "peak_weight_bytes", "bytes_read", "plan"])
            let plan = try #require(entry["plan"] as? [String: Any])
            #expect(Set(plan.keys) == ["resident_layers", "split_layers", "ring_bytes", "held_bytes", "predicted_ms"])
            #expect((entry["peak_weight_bytes"] as? Int ?? .max) <= entry["budget_bytes"] as? Int ?? 0, "peak weights within the budget")
        }
        let whole = try #require(pipelined.last?["plan"] as? [String: Any])
        #expect((whole["resident_layers"] as? [Int])?.count == 8, "1 MiB holds every layer of tiny")
        #expect(pipelined.last?["bytes_read"] as? Int == 0)
        #expect(results.first?["plan"] == nil, "unplanned rows keep the old keys")
    }

    @Test func benchBudgetTableShowsTheCurve() throws {
        let model = Scratch.tinyCopy()
        let result = try cli.run(["bench", "--model", model, "--budget", "256K,512K", "--runs", "1",
                                  "--policies", "resident,pipelined", "--threads", "1"])
        #expect(result.status == 0, "\(result.stderr)")
        for word in ["pred ms", "(pipelined budget 256.0 KiB)", "memory-delay curve", "budget 256.0 KiB: predicted", "budget 512.0 KiB: predicted", "measured median", "efficiency"] {
            #expect(result.stdout.contains(word), "table lacks '\(word)':\n\(result.stdout)")
        }
        // --depth and --budget together: unplanned rows per depth, then planned rows per budget, side by side.
        let both = try cli.run(["bench", "--model", model, "--budget", "256K", "--depth", "1,2", "--runs", "1",
                                "--policies", "pipelined", "--threads", "1", "--json"])
        #expect(both.status == 0, "\(both.stderr)")
        let object = try JSONSerialization.jsonObject(with: Data(both.stdout.utf8)) as? [String: Any]
        let rows = try #require(object?["results"] as? [[String: Any]])
        #expect(rows.map { $0["depth"] as? Int } == [1, 2, nil], "depth rows first, then the budget's")
        #expect(rows.map { $0["plan"] != nil } == [false, false, true])
    }

    @Test func planHelpTeaches() throws {
        let help = try cli.run(["plan", "--help"])
        for word in ["A plan is", "resident layers", "split layers", "ring", "budget counts every weight byte", "profile.json", "remeasure", "predicted latency"] {
            #expect(help.stdout.contains(word), "plan --help lacks '\(word)'")
        }
        let root = try cli.run(["--help"])
        #expect(root.stdout.contains("plan"))
    }
}
