"""A sixth GAN that lives outside ``trainer/``: LSGAN on the digits.

Three files, as a contributor adds a GAN: its network file (``networks.py``),
its objective file (``objective.py``) and one registry entry (``SPEC`` below,
added with :func:`trainer.registry.register`). ``tests/integration/trainer/
test_sixth_gan.py`` takes it through the whole path.
"""
from trainer import registry

SPEC = registry.GanSpec("lsgan", "support.lsgan.objective", registry.UNCONDITIONAL, "digits",
                        "Least-squares GAN, small MLP nets (digits); a test-tree example")


def register() -> registry.GanSpec:
    """Idempotent: a second call (another test, a helper process) is a no-op."""
    return registry.GANS.get(SPEC.name) or registry.register(SPEC)
