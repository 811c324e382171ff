"""Build the zip functions and the core layer the way Lambda runs them, and report sizes.

Used by ``sam build`` (each zip function's Makefile calls it with ``--artifacts-dir``) and by
``make sizes``, which builds everything into ``build/lambda`` and prints each function's unzipped
size with its layers against the 200 MB budget (Lambda's hard limit is 250 MB). Container-image
agents are reported too (their dependencies installed the same way), against the 10 GB image limit.

Dependencies are installed for Lambda's platform (manylinux x86_64, CPython 3.12) with uv, and
.pyc files are compiled with Python 3.12 when it is available: Lambda's code directory is
read-only, so a package without them recompiles on every cold start.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON_VERSION = "3.12"
PLATFORM = "x86_64-manylinux2014"
BUDGET_MB = 200
# The runtime provides these; bundling them only adds size (and version skew).
RUNTIME_PROVIDED = {"boto3", "botocore", "s3transfer", "jmespath", "urllib3", "python-dateutil", "six"}

ZIP_FUNCTIONS = {
    "GatewayFunction": (ROOT / "functions" / "gateway", "functions/gateway"),
    "OrchestratorFunction": (ROOT / "orchestrator", "orchestrator"),
    "ProgressFunction": (ROOT / "functions" / "progress", "functions/progress"),
}
IMAGE_FUNCTIONS = {
    "IngestionFunction": ROOT / "functions" / "ingestion",
    "QualityFunction": ROOT / "functions" / "quality",
    "EdaFunction": ROOT / "functions" / "eda",
    "VisualizationFunction": ROOT / "functions" / "visualization",
    "AutoMLFunction": ROOT / "functions" / "automl",
}
_SKIP = shutil.ignore_patterns("__pycache__", "*.pyc", "Makefile", "requirements.txt", "Dockerfile*", "tests")


def _uv() -> list[str]:
    found = shutil.which("uv")
    return [found] if found else [sys.executable, "-m", "uv"]


def _install(requirements: list[Path], target: Path, *, keep_runtime_provided: bool = False) -> None:
    lines = [
        line.strip()
        for path in requirements
        for line in path.read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    if not lines:
        return
    subprocess.run(
        [
            *_uv(),
            "pip",
            "install",
            "--quiet",
            "--target",
            str(target),
            "--python-version",
            PYTHON_VERSION,
            "--python-platform",
            PLATFORM,
            "--only-binary",
            ":all:",
            *lines,
        ],
        check=True,
    )
    for name in () if keep_runtime_provided else RUNTIME_PROVIDED:
        for path in target.glob(f"{name.replace('-', '_')}*"):
            shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink()
    for path in list(target.rglob("tests")) + list(target.rglob("__pycache__")):
        shutil.rmtree(path, ignore_errors=True)


def _python312() -> str | None:
    """A CPython 3.12 (Lambda's runtime) to compile .pyc with: on PATH, else a pyenv install."""
    candidates = [shutil.which(f"python{PYTHON_VERSION}")]
    candidates += sorted(
        str(p) for p in Path.home().glob(f".pyenv/versions/{PYTHON_VERSION}*/bin/python{PYTHON_VERSION}")
    )
    for candidate in filter(None, candidates):
        probe = subprocess.run([candidate, "--version"], capture_output=True, text=True, check=False)
        if probe.returncode == 0:  # pyenv shims exist but fail when the version is not selected
            return candidate
    return None


def _compile(directory: Path) -> None:
    python = _python312()
    if python is None:
        print(f"  note: python{PYTHON_VERSION} not on PATH; shipping without .pyc", file=sys.stderr)
        return
    subprocess.run([python, "-m", "compileall", "-q", "-j", "0", str(directory)], check=False)


def build_layer(out: Path) -> Path:
    target = out / "python"
    shutil.rmtree(out, ignore_errors=True)
    target.mkdir(parents=True)
    shutil.copytree(ROOT / "layers" / "core" / "analystack", target / "analystack", ignore=_SKIP)
    shutil.rmtree(target / "analystack" / "localcloud")  # the embedded cloud never runs on Lambda
    _install([ROOT / "layers" / "core" / "requirements.txt"], target)
    _compile(target)
    return out


def build_zip_function(name: str, out: Path) -> Path:
    source, package = ZIP_FUNCTIONS[name]
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    shutil.copytree(source, out / package, ignore=_SKIP)
    if package.startswith("functions/"):
        (out / "functions" / "__init__.py").write_text("")
    _install([source / "requirements.txt"], out)
    _drop_layer_duplicates(out)
    _compile(out)
    return out


def _drop_layer_duplicates(function_dir: Path) -> None:
    """A function's own requirements re-install shared dependencies (pydantic, httpx, ...) that
    the core layer already provides; dropping them keeps one version of each (the layer's) and the zip small."""
    layer = ROOT / "build" / "lambda" / "CoreLayer" / "python"
    if not layer.exists():
        build_layer(layer.parent)
    provided = {entry.name for entry in layer.iterdir()}
    for entry in function_dir.iterdir():
        if entry.name in provided and entry.name not in {"functions", "orchestrator"}:
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()


def build_image_contents(name: str, out: Path) -> Path:
    """What the Dockerfile puts in the image's task root (for the size report)."""
    source = IMAGE_FUNCTIONS[name]
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    shutil.copytree(ROOT / "layers" / "core" / "analystack", out / "analystack", ignore=_SKIP)
    shutil.copytree(source, out / "functions" / source.name, ignore=_SKIP)
    _install([ROOT / "layers" / "core" / "requirements.txt", source / "requirements.txt"], out)
    return out


def size_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1024 / 1024


def report(out: Path, *, images: bool) -> int:
    layer = build_layer(out / "CoreLayer")
    layer_mb = size_mb(layer)
    print(f"{'function':<24}{'package':<8}{'own MB':>9}{'layers MB':>11}{'total MB':>10}  budget")
    print(f"{'CoreLayer':<24}{'layer':<8}{layer_mb:>9.1f}{'':>11}{layer_mb:>10.1f}")
    worst = 0
    for name in ZIP_FUNCTIONS:
        own = size_mb(build_zip_function(name, out / name))
        total = own + layer_mb
        ok = total <= BUDGET_MB
        worst |= 0 if ok else 1
        print(
            f"{name:<24}{'zip':<8}{own:>9.1f}{layer_mb:>11.1f}{total:>10.1f}  {'ok' if ok else 'OVER'} (<= {BUDGET_MB})"
        )
    if images:
        for name, source in IMAGE_FUNCTIONS.items():
            if not (source / "requirements.txt").exists():
                continue
            own = size_mb(build_image_contents(name, out / name))
            print(f"{name:<24}{'image':<8}{own:>9.1f}{'-':>11}{own:>10.1f}  ok (image, <= 10240)")
    return worst


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--function", choices=[*ZIP_FUNCTIONS, "CoreLayer"])
    parser.add_argument("--artifacts-dir", type=Path, help="where sam build wants the function's files")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "lambda")
    parser.add_argument(
        "--no-images", action="store_true", help="skip the container-image agents in the report"
    )
    args = parser.parse_args()
    if args.function:
        target = args.artifacts_dir or args.out / args.function
        if args.function == "CoreLayer":
            # sam build hands a layer's ARTIFACTS_DIR; the layer's content goes under python/.
            staging = build_layer(args.out / "CoreLayer")
            shutil.copytree(staging, target, dirs_exist_ok=True)
        else:
            staging = build_zip_function(args.function, args.out / args.function)
            if staging != target:
                shutil.copytree(staging, target, dirs_exist_ok=True)
        return 0
    os.environ.setdefault("UV_NO_PROGRESS", "1")
    return report(args.out, images=not args.no_images)


if __name__ == "__main__":
    sys.exit(main())
