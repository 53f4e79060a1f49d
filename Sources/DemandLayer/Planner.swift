// The planner: how a session spends a byte budget on weights, chosen with a
// cost model and no IO.
//
// The model is a fluid. Layers expand into units in execution order: a
// resident layer is one unit with nothing to read; a layer cut into p > 1
// pieces is p units, each executing for its share of the layer's kernel time
// (by bytes) plus `Planner.pieceOverheadNanoseconds`; any other layer is one
// unit of its whole `byteCount`. The disk delivers bytes in unit order at a
// steady rate; the reader may hold at most `ringBytes` bytes delivered or in
// delivery for units that have not finished executing (a unit's bytes are
// released when it finishes). A unit executes once all its bytes are in and
// the unit before it is done (the fluid model the project first wrote as a
// script over bench traces, generalised from layers to units). It assumes:
// no thread hand-off latency, no first-read latency, no
// request granularity (bytes trickle in continuously), no ring fragmentation
// (any `ringBytes` bytes free are usable, wherever they lie), and kernels that
// run as fast while reads land as they do alone. Its figures are therefore a
// lower bound on what a pipelined session measures, good for comparing plans
// rather than for promising a latency.
//
// The search. A budget that holds every layer makes every layer resident.
// Otherwise a plan is a set of resident layers, a piece-size fraction f and
// what follows from them: the ring is what the budget leaves once resident
// layers and the resident tensors of split layers are paid for, rounded down
// to 4096; every layer with a split whose byteCount exceeds f × ring is cut
// into the fewest pieces no larger than f × ring (splitting moves bytes out of
// the ring, so ring and cuts are iterated to a fixed point). Residents are
// chosen greedily: from none, add the layer (among the ~24 with the most bytes
// per nanosecond of kernel that still fit) that lowers the predicted latency
// most over the best f, until no addition gains more than 0.1%.

/// What the planner knows of one layer.
public struct LayerCost: Sendable, Equatable, Codable {
    /// Bytes read for the layer whole (its files, padded to 4096).
    public var byteCount: Int
    /// The layer's kernel time, whole, in nanoseconds.
    public var executeNanoseconds: Double
    /// How the layer can be streamed in pieces, or nil: it is always read whole.
    public var split: SplitCost?
    /// Whether the layer may be held resident (false for layers with float16 or quantized
    /// weights, which are widened as they stream).
    public var canBeResident: Bool = true

    /// A layer of `byteCount` bytes whose kernel takes `executeNanoseconds`,
    /// optionally streamable in pieces as `split` says.
    public init(byteCount: Int, executeNanoseconds: Double, split: SplitCost? = nil) {
        precondition(byteCount >= 0 && executeNanoseconds >= 0, "a layer's bytes and time are not negative")
        self.byteCount = byteCount
        self.executeNanoseconds = executeNanoseconds
        self.split = split
    }

    /// The split, when it allows more than one piece (a split of one granule
    /// cannot cut anything, so the layer is read whole like any other).
    var cuttableSplit: SplitCost? {
        guard let split, split.granuleCount >= 2 else { return nil }
        return split
    }
}

/// How a large layer is cut along its output dimension.
public struct SplitCost: Sendable, Equatable, Codable {
    /// Bytes of one granule: the smallest piece. A piece is a whole number of granules.
    public var granuleBytes: Int
    /// Bytes read per run when the layer is split: the sum of its pieces (the last granule may be short).
    public var streamedBytes: Int
    /// Bytes the layer keeps resident for good while it is split (its bias and other small tensors).
    public var residentBytes: Int

    /// A split into granules of `granuleBytes` covering `streamedBytes`, the
    /// layer keeping `residentBytes` resident while split.
    public init(granuleBytes: Int, streamedBytes: Int, residentBytes: Int) {
        precondition(granuleBytes > 0 && streamedBytes > 0 && residentBytes >= 0, "a split has granules and bytes to stream")
        self.granuleBytes = granuleBytes
        self.streamedBytes = streamedBytes
        self.residentBytes = residentBytes
    }

    /// Granules in all: ceil(streamedBytes / granuleBytes).
    public var granuleCount: Int { (streamedBytes + granuleBytes - 1) / granuleBytes }

    /// The granules of piece `piece` of `pieces`, dealt as evenly as whole granules allow:
    /// [piece * G / pieces, (piece + 1) * G / pieces). Precondition 1 <= pieces <= G.
    public func granules(piece: Int, of pieces: Int) -> Range<Int> {
        let count = granuleCount
        precondition(pieces >= 1 && pieces <= count && piece >= 0 && piece < pieces, "piece \(piece) of \(pieces) of \(count) granules")
        return (piece * count / pieces)..<((piece + 1) * count / pieces)
    }

    /// Bytes of piece `piece` of `pieces`: granules × granuleBytes, the last piece ending at streamedBytes.
    public func pieceBytes(piece: Int, of pieces: Int) -> Int {
        let range = granules(piece: piece, of: pieces)
        return min(range.upperBound * granuleBytes, streamedBytes) - range.lowerBound * granuleBytes
    }

    /// The largest piece of `pieces`, in O(1): G mod p pieces hold ceil(G/p) granules and
    /// the rest floor(G/p); the last is always one of the ceil ones (and short by what the last granule lacks).
    func largestPieceBytes(of pieces: Int) -> Int {
        let count = granuleCount
        let last = pieceBytes(piece: pieces - 1, of: pieces)
        guard pieces >= 2 else { return last }
        let widestOther = count % pieces >= 2 ? (count + pieces - 1) / pieces : count / pieces
        return max(last, widestOther * granuleBytes)
    }

    /// The fewest pieces (2 or more) whose largest is at most `capBytes`;
    /// granuleCount when even single granules exceed it.
    func fewestPieces(capBytes: Int) -> Int {
        let count = granuleCount
        let granulesPerPiece = capBytes / granuleBytes
        guard granulesPerPiece > 0 else { return count }
        var pieces = min(count, max(2, (count + granulesPerPiece - 1) / granulesPerPiece))
        // ceil(G/p) <= granulesPerPiece makes `pieces` fit; one fewer can fit
        // only when the short last granule is what brings the widest piece under.
        while pieces > 2 && largestPieceBytes(of: pieces - 1) <= capBytes { pieces -= 1 }
        return pieces
    }
}

/// How a session spends its weight budget.
public struct StreamPlan: Sendable, Equatable {
    /// The budget the plan was made for, in bytes.
    public var budgetBytes: Int
    /// Bytes of the read ring (a multiple of 4096; 0 when every layer is resident).
    public var ringBytes: Int
    /// Per layer: held in memory for good (read once when the session opens).
    public var resident: [Bool]
    /// Per layer: how many pieces it is read and executed in (1: whole; > 1 only for layers with a split).
    public var pieces: [Int]
    /// The fluid model's latency for this plan, in nanoseconds.
    public var predictedNanoseconds: Double
    /// Bytes the plan holds: ring + resident layers + residentBytes of split layers (never more than budgetBytes).
    public var weightBytes: Int

    /// Indices of the resident layers, ascending.
    public var residentLayers: [Int] { resident.indices.filter { resident[$0] } }
    /// Indices of the layers read in more than one piece, ascending.
    public var splitLayers: [Int] { pieces.indices.filter { pieces[$0] > 1 } }
}

/// The cost model and the search that turn a cost table and a budget into a `StreamPlan`.
public enum Planner {
    /// Fixed kernel-call overhead added to each piece of a split layer, in nanoseconds.
    public static let pieceOverheadNanoseconds: Double = 20_000

    /// Piece-size fractions of the ring the search tries.
    static let pieceFractions: [Double] = [1, 1.0 / 2, 1.0 / 3, 1.0 / 4, 1.0 / 6, 1.0 / 8]
    /// How many layers, best bytes-per-nanosecond first, each greedy step tries making resident.
    static let residentCandidateLimit = 24
    /// The relative gain below which the greedy search stops adding residents.
    static let minimumGain = 0.001
    /// Ring sizes are whole pages of this many bytes.
    static let pageBytes = 4096

    /// The smallest budget any plan fits in: the least, over rings R, of R
    /// plus the resident tensors of every cuttable layer larger than R, where
    /// R holds every layer that cannot be cut and a granule of every one that can.
    public static func minimumBudget(_ costs: [LayerCost]) -> Int {
        var floorBytes = 0
        for cost in costs {
            if let split = cost.cuttableSplit {
                floorBytes = max(floorBytes, split.largestPieceBytes(of: split.granuleCount))
            } else {
                floorBytes = max(floorBytes, cost.byteCount)
            }
        }
        floorBytes = roundUp(floorBytes)
        // R + (resident tensors of cuttable layers above R) only steps down at
        // a layer's byteCount, so those are the only rings worth trying.
        var best = Int.max
        for ring in [floorBytes] + costs.map(\.byteCount).filter({ $0 >= floorBytes }) {
            var total = ring
            for cost in costs where cost.byteCount > ring {
                total += cost.cuttableSplit?.residentBytes ?? 0
            }
            best = min(best, total)
        }
        return best
    }

    /// The plan with the lowest predicted latency found for `budgetBytes`, or nil when the budget is below `minimumBudget`.
    public static func plan(_ costs: [LayerCost], budgetBytes: Int, readBytesPerNanosecond: Double) -> StreamPlan? {
        precondition(readBytesPerNanosecond > 0, "the disk reads at a positive rate")
        let totalBytes = costs.reduce(0) { $0 + $1.byteCount }
        if budgetBytes >= totalBytes && costs.allSatisfy(\.canBeResident) {
            return StreamPlan(
                budgetBytes: budgetBytes, ringBytes: 0, resident: Array(repeating: true, count: costs.count),
                pieces: Array(repeating: 1, count: costs.count),
                predictedNanoseconds: costs.reduce(0) { $0 + $1.executeNanoseconds }, weightBytes: totalBytes)
        }
        var search = Search(costs: costs, budgetBytes: budgetBytes, readBytesPerNanosecond: readBytesPerNanosecond)
        return search.run()
    }

    /// The fluid model's latency for a given (resident, pieces, ringBytes), in nanoseconds;
    /// infinity when some unit exceeds the ring or `pieces` asks for a cut the layer cannot take.
    public static func predict(_ costs: [LayerCost], resident: [Bool], pieces: [Int], ringBytes: Int, readBytesPerNanosecond: Double) -> Double {
        precondition(resident.count == costs.count && pieces.count == costs.count, "one entry per layer")
        precondition(readBytesPerNanosecond > 0, "the disk reads at a positive rate")
        var unitCount = 0
        for layer in costs.indices {
            let count = pieces[layer]
            if count == 1 { unitCount += 1; continue }
            guard count > 1, !resident[layer], let split = costs[layer].split, count <= split.granuleCount else { return .infinity }
            unitCount += count
        }
        var fluid = Fluid(ringBytes: ringBytes, readBytesPerNanosecond: readBytesPerNanosecond, unitCount: unitCount)
        defer { fluid.deallocate() }
        for layer in costs.indices {
            let cost = costs[layer]
            if resident[layer] {
                fluid.run(bytes: 0, executeNanoseconds: cost.executeNanoseconds)
            } else if pieces[layer] > 1, let split = cost.split {
                let scale = cost.executeNanoseconds / Double(split.streamedBytes)
                for piece in 0..<pieces[layer] {
                    let bytes = split.pieceBytes(piece: piece, of: pieces[layer])
                    fluid.run(bytes: bytes, executeNanoseconds: scale * Double(bytes) + pieceOverheadNanoseconds)
                }
            } else {
                fluid.run(bytes: cost.byteCount, executeNanoseconds: cost.executeNanoseconds)
            }
            if fluid.overflowed { return .infinity }
        }
        return fluid.executedEndNanoseconds
    }

    static func roundUp(_ bytes: Int) -> Int { roundDown(bytes + pageBytes - 1) }
    static func roundDown(_ bytes: Int) -> Int { bytes / pageBytes * pageBytes }
}

extension Planner {
    /// The fluid pipeline, fed one unit at a time in execution order.
    ///
    /// Units [0, releasedUnits) have finished executing by the read clock; both
    /// only grow, so that pointer only moves forward and a run is O(units).
    struct Fluid {
        let ringBytes: Int
        let readBytesPerNanosecond: Double
        /// When the reader has delivered `readPositionBytes` bytes.
        var readClockNanoseconds = 0.0
        var readPositionBytes = 0
        /// When the previous unit finished executing.
        var executedEndNanoseconds = 0.0
        var releasedUnits = 0
        var releasedBytes = 0
        /// Per unit run so far: when it finished, and the read position at its end
        /// (raw buffers: in a debug build, arrays cost more than the model).
        let finishNanoseconds: UnsafeMutableBufferPointer<Double>
        let endBytes: UnsafeMutableBufferPointer<Int>
        var unitsRun = 0
        /// A unit was larger than the ring: the plan cannot run.
        var overflowed = false

        init(ringBytes: Int, readBytesPerNanosecond: Double, unitCount: Int) {
            self.ringBytes = ringBytes
            self.readBytesPerNanosecond = readBytesPerNanosecond
            finishNanoseconds = .allocate(capacity: unitCount)
            endBytes = .allocate(capacity: unitCount)
        }

        func deallocate() {
            finishNanoseconds.deallocate()
            endBytes.deallocate()
        }

        mutating func run(bytes: Int, executeNanoseconds: Double) {
            guard bytes <= ringBytes else { overflowed = true; return }
            let targetBytes = readPositionBytes + bytes
            while readPositionBytes < targetBytes {
                while releasedUnits < unitsRun && finishNanoseconds[releasedUnits] <= readClockNanoseconds {
                    releasedBytes = endBytes[releasedUnits]
                    releasedUnits += 1
                }
                let limitBytes = releasedBytes + ringBytes
                if limitBytes > readPositionBytes {
                    let stepBytes = min(targetBytes, limitBytes) - readPositionBytes
                    readClockNanoseconds += Double(stepBytes) / readBytesPerNanosecond
                    readPositionBytes += stepBytes
                } else {
                    // The ring is full: wait for the next unit to finish (one exists: this unit alone fits).
                    readClockNanoseconds = finishNanoseconds[releasedUnits]
                }
            }
            executedEndNanoseconds = max(executedEndNanoseconds, readClockNanoseconds) + executeNanoseconds
            finishNanoseconds[unitsRun] = executedEndNanoseconds
            endBytes[unitsRun] = targetBytes
            unitsRun += 1
        }
    }

    /// A plan under evaluation: what follows from a resident set and a piece fraction.
    struct Layout {
        var ringBytes: Int
        var pieces: [Int]
        var weightBytes: Int
        var predictedNanoseconds: Double
    }

    /// One run of the greedy search over resident sets.
    struct Search {
        let costs: [LayerCost]
        let budgetBytes: Int
        let readBytesPerNanosecond: Double
        /// Σ executeNanoseconds: no plan runs faster.
        let executeTotalNanoseconds: Double
        /// Per layer, the fewest bytes it can cost a run when not resident.
        let leastReadBytes: [Int]
        /// Layer indices, most bytes per nanosecond of kernel first: the layers residency helps most.
        let residentOrder: [Int]
        var resident: [Bool]
        var residentBytes = 0

        init(costs: [LayerCost], budgetBytes: Int, readBytesPerNanosecond: Double) {
            self.costs = costs
            self.budgetBytes = budgetBytes
            self.readBytesPerNanosecond = readBytesPerNanosecond
            executeTotalNanoseconds = costs.reduce(0) { $0 + $1.executeNanoseconds }
            leastReadBytes = costs.map { min($0.byteCount, $0.cuttableSplit?.streamedBytes ?? $0.byteCount) }
            let ratios = costs.map { Double($0.byteCount) / max($0.executeNanoseconds, 1) }
            residentOrder = costs.indices.sorted { ratios[$0] > ratios[$1] || (ratios[$0] == ratios[$1] && $0 < $1) }
            resident = Array(repeating: false, count: costs.count)
        }

        mutating func run() -> StreamPlan? {
            guard var current = bestLayout() else { return nil }
            var unresidentReadBytes = leastReadBytes.reduce(0, +)
            while true {
                var best: (layer: Int, layout: Layout)?
                var tried = 0
                for layer in residentOrder where costs[layer].canBeResident && !resident[layer] && residentBytes + costs[layer].byteCount + Planner.pageBytes <= budgetBytes {
                    tried += 1
                    if tried > Planner.residentCandidateLimit { break }
                    // No plan beats the larger of all kernels and all reads;
                    // skip a layer whose bound cannot beat what is in hand.
                    let readBound = Double(unresidentReadBytes - leastReadBytes[layer]) / readBytesPerNanosecond
                    let bound = max(executeTotalNanoseconds, readBound)
                    let target = min(best?.layout.predictedNanoseconds ?? .infinity, current.predictedNanoseconds * (1 - Planner.minimumGain))
                    if bound >= target { continue }
                    resident[layer] = true
                    residentBytes += costs[layer].byteCount
                    if let layout = bestLayout(), layout.predictedNanoseconds < target { best = (layer, layout) }
                    resident[layer] = false
                    residentBytes -= costs[layer].byteCount
                }
                guard let best else { break }
                resident[best.layer] = true
                residentBytes += costs[best.layer].byteCount
                unresidentReadBytes -= leastReadBytes[best.layer]
                current = best.layout
            }
            return StreamPlan(
                budgetBytes: budgetBytes, ringBytes: current.ringBytes, resident: resident, pieces: current.pieces,
                predictedNanoseconds: current.predictedNanoseconds, weightBytes: current.weightBytes)
        }

        /// The best layout over the piece fractions for the current resident set, or nil if none fits.
        func bestLayout() -> Layout? {
            // A fraction whose first cap is above every cuttable layer cuts
            // nothing, as does every larger one: such layouts are all the same.
            let firstRingBytes = Planner.roundDown(budgetBytes - residentBytes)
            var largestCuttableBytes = 0
            for layer in costs.indices where !resident[layer] && costs[layer].cuttableSplit != nil {
                largestCuttableBytes = max(largestCuttableBytes, costs[layer].byteCount)
            }
            var best: Layout?
            var triedUncut = false
            for fraction in Planner.pieceFractions {
                let cutsNothing = largestCuttableBytes <= Int(fraction * Double(firstRingBytes))
                if cutsNothing && triedUncut { continue }
                triedUncut = triedUncut || cutsNothing
                guard var layout = cuts(fraction: fraction) else { continue }
                layout.predictedNanoseconds = Planner.predict(
                    costs, resident: resident, pieces: layout.pieces, ringBytes: layout.ringBytes, readBytesPerNanosecond: readBytesPerNanosecond)
                if layout.predictedNanoseconds < best?.predictedNanoseconds ?? .infinity { best = layout }
            }
            return best
        }

        /// The ring and the cuts at piece fraction `fraction` (not yet
        /// predicted), iterated to a fixed point: cutting a layer moves its
        /// resident tensors out of the ring, which may cut more layers. The
        /// ring only shrinks as the iteration goes, so a unit that does not
        /// fit now never will.
        func cuts(fraction: Double) -> Layout? {
            var splitResidentBytes = 0
            var pieces = Array(repeating: 1, count: costs.count)
            while true {
                let ringBytes = Planner.roundDown(budgetBytes - residentBytes - splitResidentBytes)
                guard ringBytes > 0 else { return nil }
                let capBytes = Int(fraction * Double(ringBytes))
                var nextSplitResidentBytes = 0
                for layer in costs.indices where !resident[layer] {
                    pieces[layer] = 1
                    let cost = costs[layer]
                    guard cost.byteCount > capBytes else { continue }
                    guard let split = cost.cuttableSplit else {
                        if cost.byteCount > ringBytes { return nil }
                        continue
                    }
                    let count = split.fewestPieces(capBytes: capBytes)
                    if split.largestPieceBytes(of: count) > ringBytes { return nil }
                    pieces[layer] = count
                    nextSplitResidentBytes += split.residentBytes
                }
                if nextSplitResidentBytes == splitResidentBytes {
                    return Layout(ringBytes: ringBytes, pieces: pieces, weightBytes: ringBytes + residentBytes + splitResidentBytes, predictedNanoseconds: .infinity)
                }
                splitResidentBytes = nextSplitResidentBytes
            }
        }
    }
}
