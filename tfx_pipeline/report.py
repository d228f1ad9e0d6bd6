"""One report for a finished run: ``<home>/report/index.html`` and a terminal table.

Per GAN: the primary metric of the generator against every baseline the
evaluator measured, blessed or why not, the pushed version and its path,
whether it was served (and its sample predictions), links to the
evaluation report and panel image, and the TensorBoard command. The page is
self-contained: the images and evaluation reports it shows are copied
beside it, so the folder can be opened offline or handed on.
"""
from __future__ import annotations

import dataclasses
import datetime
import html
import json
import math
import os

from trainer import registry
from trainer.blessing import primary_metrics

REPORT_DIR = "report"
INDEX = "index.html"
METRICS_FILE = "metrics.json"          # trainer.evaluation.METRICS_FILE (not imported: TF)
REPORT_HTML = "report.html"            # trainer.evaluation.REPORT_HTML
PANELS_PNG = "panels.png"              # trainer.evaluation.PANELS_PNG
CANDIDATE, TRIVIAL, LATEST = "candidate", "trivial_baseline", "latest_blessed"
BASELINES = "baselines"                # metrics.json: every baseline the gate compared with


@dataclasses.dataclass(frozen=True)
class GanRow:
    gan: str
    metric: str | None                  # the primary metric, e.g. "psnr"
    higher_is_better: bool
    generator: float | None
    baselines: dict[str, float | None]  # baseline name -> its value of the metric
    verdict: str                        # "blessed", "not blessed", "unchanged", "not evaluated"
    reasons: list[str]
    pushed: str | None
    served: list[str]                   # prediction files written by the demo
    evaluation: str | None
    gain: dict | None = None            # paired gain over the strongest baseline, with its CI

    @property
    def pushed_version(self) -> str | None:
        return os.path.basename(self.pushed) if self.pushed else None


def _number(v) -> float | None:
    try:
        v = float(v)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _fmt(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.4g}"


def gan_row(outcome, predictions: dict[str, list[str]] | None) -> GanRow:
    """One GAN's line of the report, from what the run left behind."""
    kind = registry.get(outcome.gan).kind
    (metric, higher), *_ = primary_metrics(kind)
    data = {}
    if outcome.evaluation:
        from tfx.dsl.io import fileio   # the pipeline root may be an object store
        path = os.path.join(outcome.evaluation, METRICS_FILE)
        if fileio.exists(path):
            with fileio.open(path) as fh:
                data = json.load(fh)
    metrics = data.get("metrics") or {}
    names = data.get("baselines") or {}
    baselines: dict[str, float | None] = {}
    if metrics.get(BASELINES):          # every simple method the gate compared with
        for name, values in sorted(metrics[BASELINES].items()):
            if isinstance(values, dict):
                baselines[name] = _number(values.get(metric))
    elif metric != "fd_fraction" and metrics.get(TRIVIAL):
        baselines[names.get(TRIVIAL) or TRIVIAL] = _number(metrics[TRIVIAL].get(metric))
    for name, values in sorted((metrics.get("references") or {}).items()):
        if isinstance(values, dict) and metric in values:
            baselines.setdefault(name, _number(values.get(metric)))
    if metrics.get(LATEST):
        baselines["latest blessed generator"] = _number(metrics[LATEST].get(metric))
    if metric == "fd_fraction":
        baselines["real-vs-real floor"] = 0.0
        baselines["real-vs-noise ceiling"] = 1.0
    generator = _number((metrics.get(CANDIDATE) or {}).get(metric))
    if outcome.unchanged:
        verdict = "unchanged"
    elif outcome.blessed is True:
        verdict = "blessed"
    elif outcome.blessed is False:
        verdict = "not blessed"
    else:
        verdict = "not evaluated"
    return GanRow(outcome.gan, metric, higher, generator, baselines, verdict,
                  list(data.get("reasons") or []), outcome.pushed,
                  list((predictions or {}).get(outcome.gan, [])), outcome.evaluation,
                  data.get("gain") or None)


def terminal_table(rows: list[GanRow]) -> list[str]:
    """Plain-text table lines (no escape codes: they read the same in CI logs)."""
    header = ("GAN", "metric", "generator", "strongest baseline", "verdict", "pushed")
    body = []
    for r in rows:
        best = _strongest(r)
        body.append((r.gan, (r.metric or "") + (" ↑" if r.higher_is_better else " ↓"),
                     _fmt(r.generator), f"{best[0]} {_fmt(best[1])}" if best else "n/a",
                     r.verdict, f"v{r.pushed_version}" if r.pushed else "-"))
    widths = [max(len(str(x)) for x in col) for col in zip(header, *body)]
    line = lambda cells: "  " + "  ".join(str(c).ljust(w) for c, w in zip(cells, widths))  # noqa: E731
    return [line(header), line(["-" * w for w in widths]), *[line(b) for b in body]]


def _strongest(r: GanRow) -> tuple[str, float] | None:
    """The baseline hardest to beat on the primary metric (the references of
    a FD fraction are its scale, not baselines)."""
    values = [(k, v) for k, v in r.baselines.items()
              if v is not None and k not in ("real-vs-real floor", "real-vs-noise ceiling",
                                             "latest blessed generator")]
    if not values:
        return None
    return max(values, key=lambda kv: kv[1]) if r.higher_is_better else min(values, key=lambda kv: kv[1])


def _gain_text(gain: dict) -> str:
    """``+0.34 [+0.25, +0.43] vs lanczos3``."""
    try:
        return (f"{float(gain['mean']):+.3g} [{float(gain['low']):+.3g}, {float(gain['high']):+.3g}] "
                f"vs {gain.get('baseline', '?')}")
    except (KeyError, TypeError, ValueError):
        return "n/a"


def _copy(src: str | None, dst: str) -> str | None:
    """Copy ``src`` (a local path or an object-store URI) to the local ``dst``."""
    from tfx.dsl.io import fileio
    if not src or not fileio.exists(src):
        return None
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    fileio.copy(src, dst, overwrite=True)
    return dst


def render_html(rows: list[GanRow], *, title: str, pipeline_root: str,
                serving_root: str, assets: dict[str, dict]) -> str:
    esc = html.escape
    colours = {"blessed": "#1a7f37", "unchanged": "#1a7f37", "not blessed": "#b42318"}
    p = [f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{esc(title)}</title>"
         "<style>body{font-family:sans-serif;margin:2em;max-width:80em}"
         "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;"
         "vertical-align:top}th{background:#f3f3f3}img{image-rendering:pixelated;"
         "max-width:100%}.pred img{height:96px;margin:2px}code{font-size:90%}</style></head>"
         f"<body><h1>{esc(title)}</h1>",
         f"<p>Pipeline root <code>{esc(pipeline_root)}</code>; serving root (TF Serving model "
         f"base path) <code>{esc(serving_root)}</code>.</p>",
         f"<p>Training curves and image panels: <code>tfxgan tensorboard --logdir "
         f"{esc(pipeline_root)}</code></p>",
         "<table id='summary'><tr><th>GAN</th><th>primary metric</th><th>generator</th>"
         "<th>baselines</th><th>gain over the strongest (95% CI)</th><th>verdict</th>"
         "<th>pushed</th><th>served</th></tr>"]
    for r in rows:
        arrow = "higher is better" if r.higher_is_better else "lower is better"
        base = "<br>".join(f"{esc(k)}: {_fmt(v)}" for k, v in r.baselines.items()) or "n/a"
        why = ("<br><small>" + "<br>".join(esc(x) for x in r.reasons) + "</small>"
               if r.reasons and r.verdict == "not blessed" else "")
        pushed = (f"version {esc(r.pushed_version)}<br><code>{esc(r.pushed)}</code>"
                  if r.pushed else "not pushed")
        served = f"yes ({len(r.served)} predictions)" if r.served else "no"
        gain = esc(_gain_text(r.gain)) if r.gain else "n/a"
        p.append(f"<tr><td><a href='#{esc(r.gan)}'>{esc(r.gan)}</a></td>"
                 f"<td>{esc(r.metric or '')} ({arrow})</td><td>{_fmt(r.generator)}</td>"
                 f"<td>{base}</td><td>{gain}</td><td style='color:{colours.get(r.verdict, '#555')}'>"
                 f"<b>{esc(r.verdict)}</b>{why}</td><td>{pushed}</td><td>{served}</td></tr>")
    p.append("</table>")
    for r in rows:
        a = assets.get(r.gan, {})
        p.append(f"<h2 id='{esc(r.gan)}'>{esc(r.gan)}</h2>")
        links = []
        if a.get("report"):
            links.append(f"<a href='{esc(a['report'])}'>evaluation report</a>")
        if a.get("panels"):
            links.append(f"<a href='{esc(a['panels'])}'>panel image</a>")
        if links:
            p.append("<p>" + " · ".join(links) + "</p>")
        if a.get("panels"):
            p.append(f"<img src='{esc(a['panels'])}' alt='{esc(r.gan)} evaluation panels'>")
        if a.get("predictions"):
            p.append("<p>Served predictions (gRPC):</p><div class='pred'>" + "".join(
                f"<img src='{esc(x)}' alt='{esc(r.gan)} prediction'>" for x in a["predictions"])
                + "</div>")
    # A self-check a browser fills in once the page has loaded: how many images
    # rendered (scripts/report_screenshot.sh and its test read it).
    p.append("<p id='load-check' style='color:#888'>images: not checked</p><script>"
             "window.addEventListener('load',function(){var i=document.images,ok=0;"
             "for(var k=0;k<i.length;k++){if(i[k].complete&&i[k].naturalWidth>0)ok++;}"
             "document.getElementById('load-check').textContent='images loaded: '+ok+' of '"
             "+i.length;});</script>")
    p.append("</body></html>")
    return "\n".join(p) + "\n"


def write_run_report(config, home: str, predictions: dict[str, list[str]] | None,
                     out=print) -> str:
    """Writes ``<home>/report/index.html`` and prints the terminal table; returns the page's path."""
    from tfx_pipeline.summary import outcomes
    rows = [gan_row(o, predictions) for o in outcomes(config)]
    root = os.path.join(home, REPORT_DIR)
    assets: dict[str, dict] = {}
    for r in rows:
        a: dict = {}
        gan_dir = os.path.join(root, r.gan)
        if r.evaluation:
            if _copy(os.path.join(r.evaluation, PANELS_PNG), os.path.join(gan_dir, PANELS_PNG)):
                a["panels"] = f"{r.gan}/{PANELS_PNG}"
            if _copy(os.path.join(r.evaluation, REPORT_HTML), os.path.join(gan_dir, REPORT_HTML)):
                a["report"] = f"{r.gan}/{REPORT_HTML}"
        shown = []
        for n, src in enumerate(f for f in r.served if f.endswith(".png")):
            name = f"prediction_{n}.png"
            if _copy(src, os.path.join(gan_dir, name)):
                shown.append(f"{r.gan}/{name}")
        if shown:
            a["predictions"] = shown
        assets[r.gan] = a
    title = f"tfx-gan run report ({datetime.datetime.now():%Y-%m-%d %H:%M})"
    os.makedirs(root, exist_ok=True)
    path = os.path.join(root, INDEX)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(render_html(rows, title=title, pipeline_root=config.pipeline_root,
                             serving_root=config.serving_root, assets=assets))
    os.replace(tmp, path)
    out("\n== results")
    for line in terminal_table(rows):
        out(line)
    out(f"  report: {path}")
    return path
