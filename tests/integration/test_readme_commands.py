"""Every console script and every command the README shows at least starts.

Commands that need data or a server are started with ``--help`` (argument
parsing, imports); TensorBoard gets a real start in tests/e2e (it once failed
only at start-up, on a missing ``pkg_resources``)."""
import pathlib
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
README = ROOT / "README.md"


def readme_commands() -> list[list[str]]:
    """The ``tfxgan`` command lines in the README's bash blocks, as argument lists."""
    text = README.read_text()
    blocks = re.findall(r"```bash\n(.*?)```", text, re.S)
    out = []
    for block in blocks:
        for line in block.splitlines():
            line = line.split("#", 1)[0].strip()
            m = re.match(r"^(?:\.venv/bin/)?tfxgan\s+(.*)$", line)
            if m:
                out.append(m.group(1).split())
    return out


def subcommands() -> list[str]:
    return sorted({args[0] for args in readme_commands() if args and not args[0].startswith("-")})


def test_readme_shows_the_main_commands():
    assert {"demo-data", "ingest", "run", "compile", "tensorboard", "serve",
            "predict"} <= set(subcommands()), subcommands()


@pytest.mark.parametrize("sub", subcommands())
def test_readme_subcommand_starts(sub):
    proc = subprocess.run([sys.executable, "-m", "tfx_pipeline.cli", sub, "--help"],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"usage: tfxgan {sub}" in proc.stdout


def test_console_scripts_start():
    text = (ROOT / "setup.py").read_text()
    scripts = re.findall(r'"(\w[\w-]*)=([\w.]+):(\w+)"', text)
    assert scripts, "setup.py declares no console script"
    bindir = pathlib.Path(sys.executable).parent
    for name, module, func in scripts:
        exe = bindir / name
        cmd = [str(exe)] if exe.exists() else [sys.executable, "-c",
                                                 f"import sys; from {module} import {func}; sys.exit({func}())"]
        proc = subprocess.run([*cmd, "--help"], capture_output=True, text=True, timeout=120, cwd=ROOT)
        assert proc.returncode == 0, (name, proc.stderr[-3000:])


def test_tensorboard_imports_its_start_up_modules():
    """TensorBoard's start-up path (``tensorboard.default``, which imports
    pkg_resources) loads with the locked setuptools."""
    proc = subprocess.run([sys.executable, "-c", "import tensorboard.default, tensorboard.program"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
