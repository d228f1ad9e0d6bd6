import os
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
for path in (ROOT, ROOT / "tests"):  # the project, and tests/support helpers
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))
# The project's `serving` package, imported before pytest collects the test package
# tests/integration/serving: with --import-mode=importlib that package would otherwise
# be registered as `serving` and hide every project module not imported yet.
import serving  # noqa: E402,F401

# Quiet TensorFlow's C++ start-up logs in test output.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Import the project's packages now, from ROOT: with --import-mode=importlib a test package
# named like a project package (tests/integration/serving/) would otherwise be bound to that
# name first, and `serving.config` would then be found by the editable install's finder, which
# points at whichever checkout was installed, not this one.
import serving  # noqa: E402,F401
import tfx_pipeline  # noqa: E402,F401
import trainer  # noqa: E402,F401
