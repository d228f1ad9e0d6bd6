"""What a finished run left behind, per GAN: the pushed version, or why nothing was pushed.

Reads through ``tfx.dsl.io.fileio``: the roots may be object-store URIs.
"""
from __future__ import annotations

import dataclasses
import json
import os

from tfx.dsl.io import fileio

BLESSED, NOT_BLESSED = "BLESSED", "NOT_BLESSED"


def latest_version(model_dir: str) -> str | None:
    """Path of the highest integer version folder under ``model_dir`` (TF Serving layout)."""
    if not fileio.isdir(model_dir):
        return None
    versions = [int(v) for v in _names(model_dir) if v.isdigit()]
    return os.path.join(model_dir, str(max(versions))) if versions else None


def latest_output(pipeline_root: str, component_id: str, output: str) -> str | None:
    """The newest ``<root>/<component>/<output>/<execution id>`` folder."""
    base = os.path.join(pipeline_root, component_id, output)
    if not fileio.isdir(base):
        return None
    ids = [int(d) for d in _names(base) if d.isdigit()]
    return os.path.join(base, str(max(ids))) if ids else None


def _names(folder: str) -> list[str]:
    """Entry names of ``folder`` (object stores may list sub-folders with a trailing '/')."""
    return [n.rstrip("/") for n in fileio.listdir(folder)]


@dataclasses.dataclass(frozen=True)
class GanOutcome:
    gan: str
    pushed: str | None        # newest pushed version folder
    blessed: bool | None      # None: no evaluation found
    report: str | None        # the evaluation report
    unchanged: bool = False   # the candidate was already the latest blessed (and pushed) one
    evaluation: str | None = None  # the newest GanEvaluator evaluation folder

    def line(self) -> str:
        if self.unchanged:
            return f"unchanged since it was blessed and pushed; serving {self.pushed}"
        if self.blessed is False:
            return f"not pushed: the generator was not blessed (why: {self.report})"
        if self.pushed:
            return f"pushed {self.pushed}" + (f" (report: {self.report})" if self.report else "")
        return "nothing pushed"


def outcomes(config) -> list[GanOutcome]:
    out = []
    for run in config.runs:
        blessing = latest_output(config.pipeline_root, f"GanEvaluator_{run.gan}", "blessing")
        evaluation = latest_output(config.pipeline_root, f"GanEvaluator_{run.gan}", "evaluation")
        blessed = None
        if blessing:
            marks = set(_names(blessing))
            blessed = True if BLESSED in marks else False if NOT_BLESSED in marks else None
        report, unchanged = None, False
        if evaluation:
            names = [n for n in sorted(_names(evaluation)) if n.startswith("report")]
            report = os.path.join(evaluation, names[0]) if names else evaluation
            metrics = os.path.join(evaluation, "metrics.json")
            if fileio.exists(metrics):
                with fileio.open(metrics) as fh:
                    unchanged = "unchanged_model_id" in json.load(fh)
        out.append(GanOutcome(run.gan, latest_version(os.path.join(config.serving_root, run.gan)),
                              blessed, report, unchanged, evaluation))
    return out
