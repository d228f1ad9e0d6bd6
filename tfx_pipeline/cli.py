"""`tfxgan` command line. Each package contributes its own subcommands.

Subcommand modules expose ``add_commands(subparsers)``; each added parser sets
``func`` (a callable taking the parsed ``argparse.Namespace`` and returning an
exit code). Heavy imports (TensorFlow, TFX) happen inside those functions, so
``tfxgan --help`` stays fast.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import sys
import warnings

# Modules that contribute subcommands, in --help order.
COMMAND_MODULES = (
    "tfx_pipeline.ingest.cli",
    "tfx_pipeline.runners.cli",
    "serving.cli",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tfxgan", description="Train GANs with TFX and serve the generators with TF Serving.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as err:
            if not (err.name and name.startswith(err.name)):  # a real missing dependency
                raise
            continue
        module.add_commands(sub)
    return parser


def configure_logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Pin absl's verbosity: TensorFlow's SavedModel writer sets it to FATAL and back
    # to the flag's value, which (never set) is WARNING; TFX's "Component X is
    # running/finished" INFO lines, which the progress view reads, would vanish.
    from absl import logging as absl_logging
    absl_logging.set_verbosity(absl_logging.DEBUG if verbose else absl_logging.INFO)
    if not verbose:  # Beam's per-worker INFO lines drown the pipeline's own progress
        logging.getLogger("apache_beam").setLevel(logging.WARNING)


def main(argv: list[str] | None = None) -> int:
    # google-api-core warns on every start that Python 3.10 is old; TFX 1.16 needs 3.10.
    warnings.filterwarnings("ignore", category=FutureWarning, module="google.api_core")
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(args.verbose)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    return int(args.func(args) or 0)


def console_main() -> None:
    """The `tfxgan` executable: main(), then an exit that survives tensorflow-io's."""
    code = main()
    from trainer.filesystems import exit_now_if_plugins_loaded
    exit_now_if_plugins_loaded(code)
    sys.exit(code)


if __name__ == "__main__":
    console_main()
