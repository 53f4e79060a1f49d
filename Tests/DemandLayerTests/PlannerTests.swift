@testable import DemandLayer
import Foundation
import Testing

/// The planner on synthetic cost tables: the fluid model against hand-worked
/// cases, the budget edges, a VGG-like table, and invariants over random tables.
@Suite struct PlannerTests {
    static let mebibyte = 1 << 20

    /// A deterministic generator (Knuth's MMIX LCG), so a failing table can be rebuilt.
    struct Generator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return state >> 33
        }
        mutating func int(_ range: ClosedRange<Int>) -> Int { range.lowerBound + Int(next() % UInt64(range.count)) }
        mutating func chance(_ percent: Int) -> Bool { int(0...99) < percent }
    }

    func predict(_ costs: [LayerCost], resident: [Bool]? = nil, pieces: [Int]? = nil, ringBytes: Int, rate: Double = 1) -> Double {
        Planner.predict(costs, resident: resident ?? costs.map { _ in false }, pieces: pieces ?? costs.map { _ in 1 },
                        ringBytes: ringBytes, readBytesPerNanosecond: rate)
    }

    // MARK: The fluid model

    @Test func fluidModelOverlapsReadsWithExecution() {
        let two = [LayerCost(byteCount: 100, executeNanoseconds: 50), LayerCost(byteCount: 100, executeNanoseconds: 50)]
        // Both reads run back to back (done at 100 and 200); layer 2 runs 200...250.
        #expect(predict(two, ringBytes: 200) == 250)
        // Layer 2's read waits for layer 1 to finish at 150: in at 250, done at 300.
        #expect(predict(two, ringBytes: 100) == 300)
        #expect(predict(two, ringBytes: 99) == .infinity, "a layer larger than the ring cannot run")
        // A resident layer 1 reads nothing: it runs 0...50 while layer 2 reads 0...100.
        #expect(predict(two, resident: [true, false], ringBytes: 100) == 150)
        #expect(predict(two, resident: [true, true], ringBytes: 0) == 100)
        // The former Tools/pipeline_bound.py (its fluid_latency, now this planner) gave 220 for execute [10, 100, 10], bytes
        // [40, 60, 50], ring 100: reads end at 40 and 100; layer 1 runs 40...50, layer 2 100...200;
        // layer 3 gets 40 bytes at once (layer 1 freed 40), waits for layer 2, lands at 210.
        let three = [LayerCost(byteCount: 40, executeNanoseconds: 10), LayerCost(byteCount: 60, executeNanoseconds: 100),
                     LayerCost(byteCount: 50, executeNanoseconds: 10)]
        #expect(predict(three, ringBytes: 100) == 220)
    }

    @Test func splitPiecesStartBeforeTheLastLands() {
        let split = SplitCost(granuleBytes: 1_000_000, streamedBytes: 10_000_000, residentBytes: 0)
        let layer = [LayerCost(byteCount: 10_000_000, executeNanoseconds: 10_000_000, split: split)]
        let whole = predict(layer, ringBytes: 10_000_000)
        #expect(whole == 20_000_000)
        // Two pieces of 5 MB: the first lands at 5 ms and runs to 10.02 ms, by when the second is in.
        let halves = predict(layer, pieces: [2], ringBytes: 10_000_000)
        #expect(halves == 5_000_000 + 2 * (5_000_000 + Planner.pieceOverheadNanoseconds))
        #expect(halves < whole)
        #expect(predict(layer, pieces: [2], ringBytes: 5_000_000) < .infinity, "pieces fit a ring the whole does not")
        #expect(predict(layer, pieces: [11], ringBytes: 10_000) == .infinity, "no more pieces than granules")
        let unsplittable = [LayerCost(byteCount: 10_000, executeNanoseconds: 1)]
        #expect(predict(unsplittable, pieces: [2], ringBytes: 10_000) == .infinity)
        let kernelBound = [LayerCost(byteCount: 10_000, executeNanoseconds: 1_000_000, split: split)]
        #expect(predict(kernelBound, pieces: [2], ringBytes: 10_000) > predict(kernelBound, ringBytes: 10_000),
                "where the kernel dominates, the per-piece overhead outweighs the overlap")
    }

    @Test func piecesDealGranulesEvenly() {
        let split = SplitCost(granuleBytes: 4096, streamedBytes: 10 * 4096 - 100, residentBytes: 0)
        #expect(split.granuleCount == 10)
        #expect(split.granules(piece: 0, of: 3) == 0..<3 && split.granules(piece: 2, of: 3) == 6..<10)
        #expect(split.pieceBytes(piece: 2, of: 3) == 4 * 4096 - 100)
        #expect((0..<4).map { split.pieceBytes(piece: $0, of: 4) }.reduce(0, +) == split.streamedBytes)
        var generator = Generator(state: 7)
        for _ in 0..<300 {
            let granule = generator.int(1...50)
            let random = SplitCost(granuleBytes: granule, streamedBytes: generator.int(1...600), residentBytes: 0)
            for pieces in 1...random.granuleCount {
                let largest = (0..<pieces).map { random.pieceBytes(piece: $0, of: pieces) }.max()!
                #expect(random.largestPieceBytes(of: pieces) == largest)
            }
            guard random.granuleCount >= 2 else { continue }
            let cap = generator.int(granule...3000)
            let brute = (2...random.granuleCount).first { random.largestPieceBytes(of: $0) <= cap }
            #expect(random.fewestPieces(capBytes: cap) == brute ?? random.granuleCount)
        }
    }

    // MARK: Budget edges

    @Test func budgetHoldingEverythingMakesEverythingResident() throws {
        let costs = (1...5).map { LayerCost(byteCount: $0 * 4096, executeNanoseconds: Double($0) * 1000) }
        let total = costs.reduce(0) { $0 + $1.byteCount }
        let plan = try #require(Planner.plan(costs, budgetBytes: total, readBytesPerNanosecond: 1))
        #expect(plan.resident == Array(repeating: true, count: 5) && plan.ringBytes == 0)
        #expect(plan.pieces == Array(repeating: 1, count: 5) && plan.splitLayers.isEmpty)
        #expect(plan.predictedNanoseconds == 15_000 && plan.weightBytes == total)
        #expect(plan.residentLayers == [0, 1, 2, 3, 4])
    }

    @Test func minimumBudgetAgreesWithPlan() throws {
        let mebibyte = Self.mebibyte
        let small = (0..<4).map { _ in LayerCost(byteCount: mebibyte, executeNanoseconds: 1e6) }
        let unsplittable = small + [LayerCost(byteCount: 10 * mebibyte, executeNanoseconds: 1e6)]
        let hard = Planner.minimumBudget(unsplittable)
        #expect(hard >= 10 * mebibyte)
        #expect(Planner.plan(unsplittable, budgetBytes: hard, readBytesPerNanosecond: 2) != nil)
        #expect(Planner.plan(unsplittable, budgetBytes: hard - 4096, readBytesPerNanosecond: 2) == nil)

        let split = SplitCost(granuleBytes: mebibyte, streamedBytes: 10 * mebibyte - 8192, residentBytes: 8192)
        let splittable = small + [LayerCost(byteCount: 10 * mebibyte, executeNanoseconds: 1e6, split: split)]
        let soft = Planner.minimumBudget(splittable)
        #expect(soft == mebibyte + 8192, "a granule's ring plus the resident tensors of the layer it cuts")
        let plan = try #require(Planner.plan(splittable, budgetBytes: soft, readBytesPerNanosecond: 2))
        #expect(plan.splitLayers == [4] && plan.ringBytes == mebibyte && plan.weightBytes <= soft)
        #expect(Planner.plan(splittable, budgetBytes: soft - 4096, readBytesPerNanosecond: 2) == nil)
    }

    // MARK: A VGG-like table

    /// 13 small convolutions heavy on compute, a huge fully-connected layer
    /// light on compute that can be cut, two more fully-connected layers.
    static func vggLike(lastLayerResidentHelps: Bool = true) -> [LayerCost] {
        let mebibyte = Self.mebibyte
        var costs = (0..<13).map { index in LayerCost(byteCount: (1 + index % 4) * mebibyte, executeNanoseconds: 8e6) }
        let huge = SplitCost(granuleBytes: 256 * 1024, streamedBytes: 392 * mebibyte, residentBytes: 16 * 1024)
        costs.append(LayerCost(byteCount: 392 * mebibyte + 16 * 1024, executeNanoseconds: 4e6, split: huge))
        costs.append(LayerCost(byteCount: 16 * mebibyte, executeNanoseconds: 1e6))
        costs.append(LayerCost(byteCount: 4 * mebibyte, executeNanoseconds: 1e5))
        return costs
    }

    @Test func vggLikeTableSplitsTheHugeLayer() throws {
        let costs = Self.vggLike()
        let total = costs.reduce(0) { $0 + $1.byteCount }
        let budget = total * 12 / 100
        let plan = try #require(Planner.plan(costs, budgetBytes: budget, readBytesPerNanosecond: 2))
        #expect(plan.splitLayers == [13], "the 392 MiB layer does not fit the ring whole")
        let split = try #require(costs[13].split)
        for piece in 0..<plan.pieces[13] {
            #expect(split.pieceBytes(piece: piece, of: plan.pieces[13]) <= plan.ringBytes)
        }
        #expect(plan.weightBytes <= budget && plan.ringBytes % 4096 == 0)
        #expect(plan.weightBytes == plan.ringBytes + plan.residentLayers.map { costs[$0].byteCount }.reduce(0, +) + split.residentBytes)
    }

    /// At 12% the ring is the bottleneck (the reader stalls on it while the
    /// convolutions compute), so a resident byte buys no more than a ring
    /// byte; at 60% the ring has room to spare and holding the last layer
    /// takes its 4 MiB off the tail of every run.
    @Test func vggLikeTableHoldsTheLightLastLayerWhenThereIsRoom() throws {
        let costs = Self.vggLike()
        let total = costs.reduce(0) { $0 + $1.byteCount }
        let plan = try #require(Planner.plan(costs, budgetBytes: total * 60 / 100, readBytesPerNanosecond: 2))
        #expect(plan.resident[15])
        #expect(plan.weightBytes <= plan.budgetBytes)
        // The same budget with the last layer's bytes given to the ring instead predicts no better.
        var resident = plan.resident
        resident[15] = false
        let ringInstead = Planner.predict(costs, resident: resident, pieces: plan.pieces,
                                          ringBytes: plan.ringBytes + costs[15].byteCount, readBytesPerNanosecond: 2)
        #expect(plan.predictedNanoseconds < ringInstead)
    }

    // MARK: Invariants over random tables

    static func randomTable(_ generator: inout Generator) -> [LayerCost] {
        (0..<generator.int(1...40)).map { _ in
            let pages = generator.int(1...(generator.chance(15) ? 2000 : 100))
            let execute = Double(generator.int(0...2_000_000))
            guard pages >= 4, generator.chance(40) else { return LayerCost(byteCount: pages * 4096, executeNanoseconds: execute) }
            let residentBytes = generator.int(0...4096)
            let streamedBytes = pages * 4096 - residentBytes
            let granuleBytes = generator.int(1...max(1, streamedBytes / 3))
            return LayerCost(byteCount: pages * 4096, executeNanoseconds: execute,
                             split: SplitCost(granuleBytes: granuleBytes, streamedBytes: streamedBytes, residentBytes: residentBytes))
        }
    }

    @Test func randomTablesKeepEveryInvariant() throws {
        var generator = Generator(state: 2024)
        for table in 0..<200 {
            let costs = Self.randomTable(&generator)
            let rate = Double(generator.int(1...40)) / 10
            let total = costs.reduce(0) { $0 + $1.byteCount }
            let minimum = Planner.minimumBudget(costs)
            #expect(Planner.plan(costs, budgetBytes: minimum - 4096, readBytesPerNanosecond: rate) == nil, "table \(table)")
            let budgets = [minimum, minimum + generator.int(0...max(0, total - minimum)), total + generator.int(0...4096)]
            for budget in budgets {
                let plan = try #require(Planner.plan(costs, budgetBytes: budget, readBytesPerNanosecond: rate), "table \(table) budget \(budget)")
                var heldBytes = plan.ringBytes
                var readBytes = 0
                for (layer, cost) in costs.enumerated() {
                    #expect(plan.pieces[layer] >= 1)
                    if plan.resident[layer] {
                        #expect(plan.pieces[layer] == 1, "table \(table): a resident layer is whole")
                        heldBytes += cost.byteCount
                    } else if plan.pieces[layer] > 1 {
                        let split = try #require(cost.split, "table \(table): only a layer with a split is cut")
                        heldBytes += split.residentBytes
                        readBytes += split.streamedBytes
                        for piece in 0..<plan.pieces[layer] {
                            #expect(split.pieceBytes(piece: piece, of: plan.pieces[layer]) <= plan.ringBytes)
                        }
                    } else {
                        readBytes += cost.byteCount
                        #expect(cost.byteCount <= plan.ringBytes, "table \(table): layer \(layer) fits the ring")
                    }
                }
                #expect(plan.weightBytes == heldBytes && plan.weightBytes <= budget, "table \(table)")
                #expect(plan.ringBytes % 4096 == 0)
                let bound = max(costs.reduce(0) { $0 + $1.executeNanoseconds }, Double(readBytes) / rate)
                #expect(plan.predictedNanoseconds >= bound * (1 - 1e-9), "table \(table): no plan beats the bound")
                let again = Planner.predict(costs, resident: plan.resident, pieces: plan.pieces, ringBytes: plan.ringBytes, readBytesPerNanosecond: rate)
                #expect(plan.predictedNanoseconds == again, "table \(table): the plan's figure is the model's")
            }
        }
    }

    // MARK: Speed

    /// A ResNet-152-sized table: not a benchmark, a guard against a search
    /// that grows out of hand.
    @Test func resNetSizedTablePlansQuickly() throws {
        var generator = Generator(state: 152)
        var costs = (0..<155).map { index in
            LayerCost(byteCount: generator.int(1...(index > 140 ? 2000 : 600)) * 4096, executeNanoseconds: Double(generator.int(50_000...2_000_000)))
        }
        // The classifier at the end, 8 MB, can be cut (as ResNet's fc can), so every fraction is tried.
        costs[154] = LayerCost(byteCount: 1954 * 4096, executeNanoseconds: 400_000,
                               split: SplitCost(granuleBytes: 8192, streamedBytes: 1953 * 4096, residentBytes: 4000))
        let total = costs.reduce(0) { $0 + $1.byteCount }
        let clock = ContinuousClock()
        for percent in [10, 25, 50, 90] {
            let budget = max(Planner.minimumBudget(costs), total * percent / 100)
            var plan: StreamPlan?
            let elapsed = clock.measure { plan = Planner.plan(costs, budgetBytes: budget, readBytesPerNanosecond: 0.5) }
            #expect(plan != nil)
            #expect(elapsed < .seconds(1), "planning 155 layers at \(percent)% took \(elapsed)")
            print("PlannerTests: 155 layers, budget \(percent)%: \(elapsed), \(plan?.residentLayers.count ?? 0) resident")
        }
    }
}
