"""Fixtures for the Kubernetes manifest tests: the two scripts under kubernetes/
(loaded by path: a top-level ``kubernetes`` package is installed) and each
overlay rendered once per session."""
from __future__ import annotations

import copy
import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
KUBERNETES_DIR = ROOT / "kubernetes"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"tfxgan_k8s_{name}", KUBERNETES_DIR / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def vm():
    """kubernetes/validate_manifests.py"""
    return _load("validate_manifests")


@pytest.fixture(scope="session")
def rc():
    """kubernetes/render_configs.py"""
    return _load("render_configs")


@pytest.fixture(scope="session")
def _rendered_cache(vm):
    cache = {}

    def get(overlay: str):
        if overlay not in cache:
            cache[overlay] = vm.render(KUBERNETES_DIR / overlay)
        return copy.deepcopy(cache[overlay])
    return get


@pytest.fixture
def rendered(_rendered_cache):
    """rendered("overlays/dev") -> a fresh (mutable) copy of the overlay's objects."""
    return _rendered_cache
