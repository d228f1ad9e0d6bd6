"""`tfxgan demo`, `tfxgan run`, `tfxgan compile`, `tfxgan tensorboard`."""
from __future__ import annotations

import argparse
import json
import os
import sys

from trainer import registry
from trainer.config import MIRRORED, STRATEGIES

DEFAULT_HOME = "outputs"


def add_commands(sub) -> None:
    d = sub.add_parser("demo", help="the main job: bundled datasets -> every GAN -> pushed generators",
                       description="Build the bundled datasets (if missing) and run the whole pipeline "
                                   "locally with the quick preset for every GAN.")
    d.add_argument("--home", default=DEFAULT_HOME, help=f"output folder (default: {DEFAULT_HOME})")
    d.add_argument("--data-root", default="data", help="bundled datasets folder (default: data)")
    d.add_argument("--gans", nargs="+", choices=sorted(registry.GANS), help="default: all")
    d.add_argument("--beam-mode", choices=("multi_processing", "in_memory"), default="in_memory",
                   help="Beam DirectRunner mode (default in_memory: faster on the small bundled data)")
    _workers_arg(d, 2)
    _verbose_arg(d)
    d.set_defaults(func=run_demo)

    r = sub.add_parser("run", help="run the pipeline (LocalDagRunner or BeamDagRunner)")
    _pipeline_args(r)
    r.add_argument("--runner", choices=("local", "beam"), default="local")
    r.add_argument("--beam-mode", choices=("multi_processing", "in_memory"), default="multi_processing",
                   help="DirectRunner mode when no --beam-arg=--runner=... is given")
    r.add_argument("--no-cache", action="store_true", help="re-run every component")
    _workers_arg(r, 1)
    _verbose_arg(r)
    r.set_defaults(func=run_pipeline)

    c = sub.add_parser("compile", help="compile a Kubeflow Pipelines v2 spec (KubeflowV2DagRunner)")
    _pipeline_args(c)
    c.add_argument("--image", required=True, help="container image with this project, pinned tag")
    c.add_argument("--output", required=True, help="pipeline spec JSON to write")
    c.add_argument("--allow-local-paths", action="store_true",
                   help="accept local pipeline, data and serving roots (by default they must be "
                        "object-store URIs such as gs://...: cluster pods cannot see this machine)")
    c.set_defaults(func=run_compile)

    t = sub.add_parser("tensorboard", help="open TensorBoard on a pipeline's training logs")
    t.add_argument("--logdir", default=os.path.join(DEFAULT_HOME, "pipeline"),
                   help="pipeline root or any folder of event files")
    t.add_argument("--port", type=int, default=6006)
    t.add_argument("--host", default="127.0.0.1")
    t.set_defaults(func=run_tensorboard)


def _workers_arg(p: argparse.ArgumentParser, default: int) -> None:
    p.add_argument("--workers", type=int, default=default,
                   help="local runner: run the pipeline's independent parts (one per dataset, "
                        "with its GANs) in this many processes side by side "
                        f"(tfx_pipeline/runners/parallel.py; default {default})")


def _verbose_arg(p: argparse.ArgumentParser) -> None:
    # SUPPRESS: `tfxgan --verbose run` (the global flag) is not reset by the subcommand.
    p.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                   help="stream every log line (TensorFlow, TFX, Beam) instead of the progress "
                        "view; without it they go to HOME/logs/<run id>.log")


def _pipeline_args(p: argparse.ArgumentParser) -> None:
    from tfx_pipeline.configs import PIPELINE_NAME, PRESETS, QUICK
    p.add_argument("--gans", nargs="+", choices=sorted(registry.GANS), help="default: all")
    p.add_argument("--preset", choices=PRESETS, default=QUICK,
                   help="quick: small models, minutes on 2 cores; seed: the seed documents' sizes")
    p.add_argument("--data-root", default="data",
                   help="folder of datasets, one per GAN: <data-root>/<dataset>/Span-N/ (default: data)")
    p.add_argument("--data", metavar="GAN=DIR", action="append", default=[],
                   help="train GAN on the ingested folder DIR instead (repeatable)")
    p.add_argument("--hparams", metavar="GAN=JSON", action="append", default=[],
                   help='hyper-parameter overrides, e.g. pix2pix_wgan_gp=\'{"batch_size": 4}\'')
    p.add_argument("--evaluation", metavar="GAN=JSON", action="append", default=[],
                   help="GanEvaluator threshold overrides (trainer/blessing.py EvalConfig), "
                        "e.g. dcgan='{\"max_fd_fraction\": 0.5}'")
    p.add_argument("--train-steps", type=int, help="training steps per GAN (default: preset)")
    p.add_argument("--bit-depth", metavar="GAN=BITS", action="append", default=[],
                   help="stored bit depth the schema requires for GAN's data (8 or 16)")
    p.add_argument("--home", default=DEFAULT_HOME,
                   help="default parent of --pipeline-root, --serving-root, --metadata")
    p.add_argument("--pipeline-root", help="artifacts (default: HOME/pipeline)")
    p.add_argument("--serving-root", help="pushed models: ROOT/<gan>/<version>/ (default: HOME/serving)")
    p.add_argument("--metadata", help="SQLite ML Metadata file (default: HOME/metadata.sqlite)")
    p.add_argument("--pipeline-name", default=PIPELINE_NAME)
    p.add_argument("--strategy", default=MIRRORED, choices=STRATEGIES)
    p.add_argument("--no-materialize", action="store_true",
                   help="apply the Transform graph inside the Trainer instead of materialising")
    p.add_argument("--bulk-infer", metavar="GAN=SPLIT", action="append", default=[],
                   help="after the Pusher, run GAN's pushed generator over SPLIT (train or eval) "
                        "and write PNGs + manifest.json (paired GANs; repeatable)")
    p.add_argument("--beam-arg", action="append", default=[],
                   help="a Beam pipeline arg, e.g. --beam-arg=--runner=DataflowRunner (repeatable)")


def _pairs(values, what) -> dict:
    out = {}
    for v in values:
        gan, sep, rest = v.partition("=")
        if not sep or not rest:
            raise ValueError(f"{what} must look like GAN=VALUE, got {v!r}")
        registry.get(gan)
        out[gan] = rest
    return out


def _abs(path: str) -> str:
    """Absolute local path; URIs (gs://, s3://, ...) are kept as they are."""
    return path if "://" in path else os.path.abspath(path)


def build_config(args, beam_args=()):
    import dataclasses
    from tfx_pipeline.configs import PipelineConfig, preset_runs
    from trainer.blessing import EvalConfig
    from trainer.filesystems import beam_s3_args, ensure_filesystem
    home = _abs(args.home)
    try:
        hparams = {g: json.loads(v) for g, v in _pairs(args.hparams, "--hparams").items()}
    except json.JSONDecodeError as err:
        raise ValueError(f"--hparams value is not JSON: {err}") from None
    try:
        evaluation = {g: json.loads(v) for g, v in _pairs(args.evaluation, "--evaluation").items()}
    except json.JSONDecodeError as err:
        raise ValueError(f"--evaluation value is not JSON: {err}") from None
    data = _pairs(args.data, "--data")
    bits = {g: int(v) for g, v in _pairs(args.bit_depth, "--bit-depth").items()}
    bulk = _pairs(getattr(args, "bulk_infer", []), "--bulk-infer")
    gans = args.gans or (list(data) if data else None)
    runs = preset_runs(args.preset, _abs(args.data_root), gans, hparams, args.train_steps)
    missing = sorted(set(bulk) - {r.gan for r in runs})
    if missing:
        raise ValueError(f"--bulk-infer names GANs not in the run: {missing}")
    runs = tuple(dataclasses.replace(
        r, data_root=_abs(data.get(r.gan, r.data_root)), bit_depth=bits.get(r.gan, r.bit_depth),
        bulk_infer_split=bulk.get(r.gan),
        evaluation=EvalConfig.from_dict(evaluation[r.gan]) if r.gan in evaluation else r.evaluation)
        for r in runs)
    pipeline_root = _abs(args.pipeline_root or os.path.join(home, "pipeline"))
    serving_root = _abs(args.serving_root or os.path.join(home, "serving"))
    # s3:// needs tensorflow-io in this process and Beam's S3 options (trainer/filesystems.py).
    uris = (pipeline_root, serving_root, *(r.data_root for r in runs))
    ensure_filesystem(*uris)
    beam = tuple(beam_args) + tuple(args.beam_arg)
    return PipelineConfig(
        pipeline_name=args.pipeline_name,
        pipeline_root=pipeline_root,
        serving_root=serving_root,
        metadata_path=_abs(args.metadata or os.path.join(home, "metadata.sqlite")),
        runs=runs,
        strategy=args.strategy,
        materialize=not args.no_materialize,
        enable_cache=not getattr(args, "no_cache", False),
        beam_pipeline_args=beam + beam_s3_args(uris, beam),
    )


def _check_data(config) -> None:
    """Every GAN's data root holds a Span-N folder (local folder or object-store URI)."""
    from tfx.dsl.io import fileio
    for run in config.runs:
        if not fileio.isdir(run.data_root) or not any(
                n.startswith("Span-") for n in fileio.listdir(run.data_root)):
            raise FileNotFoundError(
                f"no ingested data for {run.gan} at {run.data_root} (expected Span-N/train, "
                f"Span-N/eval inside); build it with `tfxgan demo-data {run.spec.dataset}` "
                f"or `tfxgan ingest`")


def _log_home(home: str) -> str:
    """Where the run's log file goes: HOME/logs, or ./outputs/logs for an object-store HOME."""
    return home if "://" not in home else DEFAULT_HOME


def run_pipeline(args) -> int:
    from tfx_pipeline.progress import run_console
    from tfx_pipeline.runners import local
    try:
        default_beam = () if any(a.startswith("--runner") for a in args.beam_arg) else (
            local.DIRECT_MULTIPROCESSING if args.beam_mode == "multi_processing"
            else local.DIRECT_IN_MEMORY)
        if args.workers < 1:
            raise ValueError(f"--workers must be >= 1, received {args.workers}")
        if args.workers > 1 and args.runner != "local":
            raise ValueError("--workers > 1 needs the local runner (--runner local); "
                             "BeamDagRunner orchestrates the pipeline itself")
        config = build_config(args, default_beam)
        _check_data(config)
    except (ValueError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    # TF Serving reads <serving root>/models.config (the Pushers rewrite it): make
    # sure it exists, listing what is already pushed, before the run starts.
    from serving.pushed import write_models_config
    write_models_config(config.serving_root)
    from tfx_pipeline.progress import RunConsole
    nested = RunConsole.active is not None   # `tfxgan demo` reports once, at its end
    with run_console(_log_home(args.home), verbose=getattr(args, "verbose", False)) as console:
        from tfx_pipeline.pipeline import create_pipeline
        pipeline = create_pipeline(config)
        console.set_total(len(pipeline.components))
        from tfx_pipeline.runners import parallel
        groups = parallel.parts(config.runs)
        workers = min(args.workers, len(groups))
        if args.runner == "beam":
            how = "the BeamDagRunner"
        elif workers == 1:
            how = "the LocalDagRunner"
        else:
            listed = "; ".join(", ".join(r.gan for r in g) for g in groups)
            how = f"LocalDagRunner in {workers} processes, one part each at a time ({listed})"
        console.line(f"running {len(pipeline.components)} components "
                     f"({', '.join(r.gan for r in config.runs)}) with {how}")
        if args.runner == "beam":
            from tfx_pipeline.runners import beam
            beam.run(config, pipeline)
        elif workers > 1:
            parallel.run(config, workers)
        else:
            local.run(config, pipeline)
        print_summary(config, console.line)
        if not nested:
            from tfx_pipeline.report import write_run_report
            write_run_report(config, os.path.abspath(_log_home(args.home)), None, out=console.line)
    return console.exit_code


def print_summary(config, out=print) -> None:
    from tfx_pipeline.summary import outcomes
    out("\n== pipeline finished")
    for outcome in outcomes(config):
        out(f"  {outcome.gan:18s} {outcome.line()}")
    out(f"  TensorBoard logs: {config.pipeline_root} "
        f"(open with: tfxgan tensorboard --logdir {config.pipeline_root})")
    out(f"  serving root (TF Serving model base path): {config.serving_root}")


def local_roots(config) -> list[tuple[str, str]]:
    """(flag, path) of every root of ``config`` that is a local path, not a URI."""
    from serving.config import is_local
    roots = [("--pipeline-root", config.pipeline_root), ("--serving-root", config.serving_root)]
    roots += [(f"data of {run.gan} (--data-root, --data)", run.data_root) for run in config.runs]
    return [(flag, path) for flag, path in roots if is_local(path)]


def run_compile(args) -> int:
    from tfx_pipeline.runners import kubeflow_v2
    import dataclasses
    try:
        kubeflow_v2.check_image(args.image)
        # Kubeflow runs keep ML Metadata in the cluster: no SQLite file in the spec.
        config = dataclasses.replace(build_config(args, ()), metadata_path=None)
        local = local_roots(config)
        if local and not args.allow_local_paths:
            raise ValueError(
                "the pipeline runs in cluster pods, which cannot read this machine's files; "
                "give object-store URIs (gs://..., s3://...) or pass --allow-local-paths. "
                "Local: " + "; ".join(f"{flag} = {path!r}" for flag, path in local))
        path = kubeflow_v2.compile_pipeline(config, args.image, args.output)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    with open(path) as fh:
        tasks = sorted(json.load(fh)["pipelineSpec"]["root"]["dag"]["tasks"])
    print(f"wrote {path}: {len(tasks)} tasks, image {args.image}")
    print(f"  pipeline root: {config.pipeline_root}")
    print(f"  serving root:  {config.serving_root}")
    for root in sorted({run.data_root for run in config.runs}):
        print(f"  data:          {root} ({', '.join(r.gan for r in config.runs if r.data_root == root)})")
    print("  tasks: " + ", ".join(tasks))
    return 0


def run_tensorboard(args) -> int:
    """Replaces this process with TensorBoard (so Ctrl-C and SIGTERM reach it directly)."""
    if "://" not in args.logdir and not os.path.exists(args.logdir):
        print(f"error: log directory not found: {args.logdir}", file=sys.stderr)
        return 2
    exe = os.path.join(os.path.dirname(sys.executable), "tensorboard")
    if not os.path.exists(exe):
        import shutil
        exe = shutil.which("tensorboard")
        if exe is None:
            print("error: the tensorboard executable is not installed in this environment",
                  file=sys.stderr)
            return 2
    cmd = [exe, "--logdir", args.logdir, "--port", str(args.port), "--host", args.host]
    print(" ".join(cmd), flush=True)
    sys.stderr.flush()
    os.execv(exe, cmd)


def run_demo(args) -> int:
    from tfx_pipeline.cli import main as tfxgan
    from tfx_pipeline.progress import run_console
    gans = args.gans or list(registry.GANS)
    needed = sorted({registry.get(g).dataset for g in gans})
    missing = [d for d in needed if not os.path.isdir(os.path.join(args.data_root, d, "Span-0"))]
    with run_console(_log_home(args.home), verbose=getattr(args, "verbose", False)) as console:
        if missing:
            console.line(f"building the bundled datasets {', '.join(missing)} in {args.data_root}/")
            rc = tfxgan(["demo-data", *missing, "--output", args.data_root, "--no-progress"])
            if rc:
                raise RuntimeError(f"tfxgan demo-data {' '.join(missing)} failed (exit {rc})")
        # Beam in-process: on one machine with the small bundled datasets, starting
        # DirectRunner worker processes costs more than they save (BENCHMARKS.md).
        run = ["run", "--home", args.home, "--data-root", args.data_root, "--gans", *gans,
               "--beam-mode", args.beam_mode, "--workers", str(args.workers)]
        if tfxgan(run):
            return 1
        from tfx_pipeline.runners.demo import serve_and_predict
        console.line("\n== serving the pushed generators locally (TF Serving API)")
        config = build_config(build_parser_for(run))
        predictions = serve_and_predict(config, os.path.abspath(args.home), out=console.line)
        from tfx_pipeline.report import write_run_report
        write_run_report(config, os.path.abspath(args.home), predictions, out=console.line)
    return console.exit_code


def build_parser_for(argv):
    """The parsed `tfxgan run` arguments of ``argv``."""
    from tfx_pipeline.cli import build_parser
    return build_parser().parse_args(argv)
