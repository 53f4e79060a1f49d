/// ONNX LSTM (opsets 7–22) and GRU (opsets 7–22) in the runtime's form.
///
/// Inputs, by position (trailing ones may be left out; the converter fills a
/// gap before a given input with zeros or full lengths):
///
///     X              (seqLength, batch, inputSize)        layout 0 only
///     W              (directions, gates·hidden, inputSize)
///     R              (directions, gates·hidden, hidden)
///     B              (directions, 2·gates·hidden)          Wb then Rb; zeros when absent
///     sequence_lens  (batch)                               whole numbers in 0...seqLength
///     initial_h      (directions, batch, hidden)           zeros when absent
///     initial_c      (directions, batch, hidden)           LSTM only; zeros when absent
///     P              (directions, 3·hidden)                LSTM only: peepholes i, o, f
///
/// with gates = 4 for LSTM (rows i, o, f, c of W, R and B) and 3 for GRU
/// (z, r, h), directions = 2 when bidirectional, else 1.
///
/// Every runtime node has one output, so the ONNX outputs are stacked along
/// the sequence axis: (seqLength + states, directions, batch, hidden) holds
/// Y in rows 0..<seqLength, then Y_h, then (LSTM) Y_c; states = 2 for LSTM
/// and 1 for GRU. The converter slices out the outputs a graph reads. Steps
/// at or past a batch entry's sequence length leave zeros in Y and its state
/// unchanged (so Y_h and Y_c hold the state after its last step; zeros for
/// an entry of length 0, as onnxruntime gives).
///
/// Activations are ONNX's defaults only (f = Sigmoid, g = h = Tanh); the
/// converter refuses others, naming the node and the attribute.
public struct RecurrentParameters: Hashable, Sendable {
    /// Which cell.
    public enum Kind: String, Hashable, Sendable {
        /// Gates i, o, f, c; states h and c.
        case lstm = "LSTM"
        /// Gates z, r, h; state h.
        case gru = "GRU"
    }

    /// Which way the sequence is walked.
    public enum Direction: String, Hashable, Sendable, CaseIterable {
        /// Steps 0, 1, ..., length − 1.
        case forward
        /// Steps length − 1, ..., 0.
        case reverse
        /// Both, forward as direction 0 and reverse as direction 1.
        case bidirectional
    }

    /// LSTM or GRU.
    public var kind: Kind
    /// Features of the hidden state (ONNX hidden_size).
    public var hiddenSize: Int
    /// Forward, reverse or both.
    public var direction: Direction
    /// When set, every gate's input to its activation is clamped to
    /// [−clip, clip] (ONNX clip).
    public var clip: Float?
    /// LSTM: the forget gate is 1 − the input gate (ONNX input_forget).
    public var inputForget: Bool
    /// GRU: R_h is applied before the reset gate (ONNX linear_before_reset).
    public var linearBeforeReset: Bool

    /// Recurrent parameters; the defaults are ONNX's.
    public init(kind: Kind, hiddenSize: Int, direction: Direction = .forward, clip: Float? = nil,
                inputForget: Bool = false, linearBeforeReset: Bool = false) {
        self.kind = kind
        self.hiddenSize = hiddenSize
        self.direction = direction
        self.clip = clip
        self.inputForget = inputForget
        self.linearBeforeReset = linearBeforeReset
    }

    /// 2 when bidirectional, else 1.
    public var directionCount: Int { direction == .bidirectional ? 2 : 1 }
    /// Gate blocks in W, R and half of B: 4 (LSTM) or 3 (GRU).
    public var gateCount: Int { kind == .lstm ? 4 : 3 }
    /// States appended to Y in the output: 2 (LSTM: h, c) or 1 (GRU: h).
    public var stateCount: Int { kind == .lstm ? 2 : 1 }
    /// The most inputs the op takes: 8 (LSTM) or 6 (GRU).
    var inputLimit: Int { kind == .lstm ? 8 : 6 }

    /// Reads the runtime attributes: hidden_size (required), direction,
    /// clip, layout (0 only), and input_forget (LSTM) or linear_before_reset
    /// (GRU). Activations are not attributes here: the converter checks that
    /// they are the defaults and drops them.
    init(kind: Kind, _ reader: AttributeReader) throws(OperatorError) {
        let own = kind == .lstm ? "input_forget" : "linear_before_reset"
        try reader.allow(["hidden_size", "direction", "clip", "layout", own])
        guard let hiddenSize = try reader.optionalInt("hidden_size") else { throw reader.missing("hidden_size", "128") }
        guard hiddenSize >= 1 else {
            throw OperatorError(.invalidAttribute, "\(kind.rawValue) hidden_size is \(hiddenSize); it must be at least 1")
        }
        try reader.requireInt("layout", is: 0, "X is (seq_length, batch, input_size); the converter transposes layout 1")
        let direction = Direction(rawValue: try reader.choice("direction", Direction.allCases.map(\.rawValue)))!
        let clip = try reader.optionalFloat("clip")
        if let clip, !(clip > 0) {
            throw OperatorError(.invalidAttribute, "\(kind.rawValue) clip is \(clip); it must be positive")
        }
        self.init(kind: kind, hiddenSize: hiddenSize, direction: direction, clip: clip,
                  inputForget: kind == .lstm ? try reader.bool(own, default: false) : false,
                  linearBeforeReset: kind == .gru ? try reader.bool(own, default: false) : false)
    }
}

extension Operator {
    /// `outputShape(inputs:)` for LSTM and GRU; see `RecurrentParameters`.
    func recurrentShape(_ parameters: RecurrentParameters, _ inputs: [Shape]) throws(OperatorError) -> Shape {
        let names = parameters.kind == .lstm
            ? "X, W, R and optional B, sequence_lens, initial_h, initial_c, P"
            : "X, W, R and optional B, sequence_lens, initial_h"
        try requireInputCount(inputs, 3...parameters.inputLimit, names)
        let x = inputs[0]
        guard x.rank == 3 else { throw shapeError("input X is \(x); \(typeName) needs (seq_length, batch_size, input_size)") }
        let (steps, batch, inputSize) = (x[0], x[1], x[2])
        let (directions, hidden) = (parameters.directionCount, parameters.hiddenSize)
        let rows = parameters.gateCount * hidden
        var expected: [(name: String, shape: Shape, meaning: String)] = [
            ("W", [directions, rows, inputSize], "(num_directions, \(parameters.gateCount)·hidden_size, input_size)"),
            ("R", [directions, rows, hidden], "(num_directions, \(parameters.gateCount)·hidden_size, hidden_size)"),
            ("B", [directions, 2 * rows], "(num_directions, \(2 * parameters.gateCount)·hidden_size)"),
            ("sequence_lens", [batch], "(batch_size)"),
            ("initial_h", [directions, batch, hidden], "(num_directions, batch_size, hidden_size)"),
        ]
        if parameters.kind == .lstm {
            expected.append(("initial_c", [directions, batch, hidden], "(num_directions, batch_size, hidden_size)"))
            expected.append(("P", [directions, 3 * hidden], "(num_directions, 3·hidden_size)"))
        }
        for (index, shape) in inputs.enumerated().dropFirst() where shape != expected[index - 1].shape {
            let (name, want, meaning) = expected[index - 1]
            throw shapeError("\(typeName) \(name) is \(shape); with X \(x), hidden_size \(hidden) and direction "
                + "\(parameters.direction.rawValue) it must be \(want), \(meaning)")
        }
        return [steps + parameters.stateCount, directions, batch, hidden]
    }
}
