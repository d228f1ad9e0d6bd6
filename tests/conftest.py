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


import pytest  # noqa: E402


@pytest.fixture(scope="session")
def s3():
    """A loopback S3 server (moto) with one bucket, its variables exported for TF and Beam."""
    from support.s3 import exported, loopback_s3
    with loopback_s3() as server, exported(server.env):
        yield server


_EXIT_STATUS = 0


def pytest_sessionfinish(session, exitstatus):
    global _EXIT_STATUS
    _EXIT_STATUS = int(exitstatus)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    # After the report: a test process that used s3:// through tensorflow-io would
    # otherwise abort at exit (trainer.filesystems.exit_now_if_plugins_loaded).
    from trainer.filesystems import exit_now_if_plugins_loaded
    exit_now_if_plugins_loaded(_EXIT_STATUS)
