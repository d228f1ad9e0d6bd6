"""Fixtures for the Kubernetes manifest tests: the two tools of the ``deploy`` package
and each overlay rendered once per session."""
from __future__ import annotations

import copy

import pytest

from deploy import KUBERNETES_DIR


@pytest.fixture(scope="session")
def vm():
    """deploy/validate_manifests.py"""
    from deploy import validate_manifests
    return validate_manifests


@pytest.fixture(scope="session")
def rc():
    """deploy/render_configs.py"""
    from deploy import render_configs
    return render_configs


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
