import DemandTensor

/// What to do instead, for the operators edge models ship that the runtime
/// does not run. The convert error names the op and the node (the caller
/// attaches the node's label) and, from this table, the nearest thing that
/// does work; an op not in the table gets the list of supported operators.
extension Lowering {
    /// Advice by ONNX op type, in any domain (MatMulNBits and the QLinear*
    /// family live in `com.microsoft`, and the advice is the same there).
    static let alternatives: [String: String] = {
        let recurrent = "the plain RNN cell is not supported; LSTM and GRU are (default activations), so export the "
            + "layer as one of those, or unrolled over a fixed sequence length (MatMul, Add and Tanh are supported)"
        let controlFlow = "control flow is not supported; fold the condition at export (make it a constant: trace "
            + "the model rather than script it, so one branch is kept), and unroll loops to a fixed count"
        let quantized = "this quantized operator is not supported yet (QuantizeLinear and DequantizeLinear are: export "
            + "the model in QDQ form or with 4-bit MatMulNBits, or convert the float model with `--dtype int8`)"
        var table: [String: String] = [:]
        table["RNN"] = recurrent
        for op in ["Loop", "Scan"] { table[op] = controlFlow }
        // Reached only for a condition computed at run time (`Lowering.inlineIf` takes a constant one).
        table["If"] = "an If is inlined only when its condition is known at convert time; fold the condition at export "
            + "(trace the model rather than script it, so one branch is kept), or give --input-shape for every symbolic "
            + "dimension so a condition computed from shapes folds"
        for op in ["DynamicQuantizeLinear",
                   "QLinearAdd", "QLinearMul", "ConvInteger", "MatMulIntegerToFloat",
                   "DynamicQuantizeMatMul", "QGemm"] {
            table[op] = quantized
        }
        table["NonMaxSuppression"] = "non-maximum suppression is not supported; export the model without it and run "
            + "it outside the model on the boxes output"
        return table
    }()

    /// The error for `node` when its op is one the table advises on or its
    /// domain is not the default one; nil when it may be supported.
    static func unsupportedOperatorError(op: String, domain: String) -> ImportError? {
        if let advice = alternatives[op], !Operator.supportedTypes.contains(op) {
            return ImportError(.unsupported, "operator '\(op)' is not supported: \(advice)")
        }
        guard domain.isEmpty || domain == "ai.onnx" else {
            let remedy = domain == "com.microsoft"
                ? "'com.microsoft' operators come from onnxruntime's graph optimizer or its quantization tools: "
                    + "convert the model as exported, before onnxruntime optimized it"
                : "custom operators need the runtime that defines them; export '\(op)' as default-domain operators"
            return ImportError(.unsupported,
                "operator '\(op)' of domain '\(domain)' is not supported; only the default ONNX domain is. \(remedy) "
                    + "(supported: \(supportedList))")
        }
        return nil
    }
}
