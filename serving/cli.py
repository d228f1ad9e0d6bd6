"""`tfxgan` serving subcommands: serving-config, serve, predict, model-metadata, model-status.

Heavy imports (TensorFlow, grpc) happen inside the command functions.
"""
from __future__ import annotations

import logging
import sys
from pathlib import Path

log = logging.getLogger(__name__)


def _versions_arg(text: str):
    """``3`` (every GAN) or ``pix2pix_wgan_gp=3,dcgan=5`` (per GAN)."""
    if "=" not in text:
        return int(text)
    out = {}
    for part in text.split(","):
        name, _, v = part.partition("=")
        out[name.strip()] = int(v)
    return out


def add_commands(subparsers) -> None:
    _add_serving_config(subparsers)
    _add_serve(subparsers)
    _add_predict(subparsers)
    _add_metadata(subparsers)
    _add_status(subparsers)


# ------------------------------------------------------------ serving-config
def _add_serving_config(sub):
    from serving.config import BatchingConfig

    d = BatchingConfig()
    p = sub.add_parser(
        "serving-config",
        help="write TF Serving's models.config, monitoring.config and batching_parameters.txt",
        description="Generate TF Serving configuration from the GAN registry.")
    p.add_argument("--out-dir", required=True, help="directory for the three files")
    p.add_argument("--model-base-path", required=True,
                   help="the Pusher's destination root (local dir, /models or gs://...); "
                        "each GAN's base_path is <this>/<gan>")
    p.add_argument("--gans", nargs="+", default=None, help="GAN names (default: all registered)")
    p.add_argument("--stable", type=_versions_arg, default=None,
                   help="version labelled 'stable': N or gan=N,gan=N (pins the version policy)")
    p.add_argument("--canary", type=_versions_arg, default=None,
                   help="version labelled 'canary': N or gan=N,gan=N")
    p.add_argument("--auto-labels", action="store_true",
                   help="label local pushed versions: newest = canary, the one before = stable")
    p.add_argument("--num-versions", type=int, default=1,
                   help="latest{num_versions} when no labels are given (default 1)")
    p.add_argument("--max-batch-size", type=int, default=d.max_batch_size)
    p.add_argument("--batch-timeout-micros", type=int, default=d.batch_timeout_micros)
    p.add_argument("--max-enqueued-batches", type=int, default=d.max_enqueued_batches)
    p.add_argument("--num-batch-threads", type=int, default=d.num_batch_threads,
                   help="set to the CPU cores of the serving machine")
    p.set_defaults(func=_run_serving_config)


def _run_serving_config(args) -> int:
    from serving import config as C

    stable, canary = args.stable, args.canary
    if args.auto_labels:
        if stable is not None or canary is not None:
            print("--auto-labels cannot be combined with --stable/--canary", file=sys.stderr)
            return 2
        stable, canary = {}, {}
        for name in C._gan_names(args.gans):
            have = C.pushed_versions(C.join_base_path(args.model_base_path, name))
            if len(have) >= 2:
                stable[name], canary[name] = have[-2], have[-1]
            elif have:
                stable[name] = have[-1]
    try:
        batching = C.BatchingConfig(
            max_batch_size=args.max_batch_size, batch_timeout_micros=args.batch_timeout_micros,
            max_enqueued_batches=args.max_enqueued_batches,
            num_batch_threads=args.num_batch_threads)
        paths = C.write_serving_configs(args.out_dir, args.model_base_path, args.gans,
                                        stable or None, canary or None,
                                        num_versions=args.num_versions, batching=batching)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    for p in paths.values():
        print(p)
    return 0


# --------------------------------------------------------------------- serve
def _add_serve(sub):
    from serving.model_manager import RequestLimits

    limits = RequestLimits()
    p = sub.add_parser(
        "serve",
        help="local stand-in for TF Serving (same gRPC and REST API; not for production)",
        description="Serve SavedModels over TF Serving's gRPC and REST APIs. A local and test "
                    "stand-in for tensorflow_model_server, not a production server.")
    p.add_argument("--model-config-file", help="models.config (ModelServerConfig text proto)")
    p.add_argument("--model-name", help="single model (instead of --model-config-file)")
    p.add_argument("--model-base-path", help="single model's base path")
    p.add_argument("--port", type=int, default=8500, help="gRPC port (0 = pick a free one)")
    p.add_argument("--rest-api-port", type=int, default=8501, help="REST port (0 = free, -1 = off)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--file-system-poll-wait-seconds", type=float, default=2.0,
                   help="how often to look for new versions (0 = never)")
    p.add_argument("--model-config-file-poll-wait-seconds", type=float, default=0.0,
                   help="how often to re-read a changed --model-config-file (0 = never)")
    p.add_argument("--enable-batching", action="store_true")
    p.add_argument("--batching-parameters-file")
    p.add_argument("--max-receive-message-mb", type=int, default=64,
                   help="largest request accepted; larger ones get RESOURCE_EXHAUSTED")
    p.add_argument("--monitoring-config-file",
                   help="monitoring.config: Prometheus metrics path on the REST port")
    p.add_argument("--no-warmup", action="store_true", help="skip the warmup-request replay")
    p.add_argument("--max-request-batch-size", type=int, default=limits.max_batch_size,
                   help="largest batch (rows) one request may ask for, any model; larger: "
                        f"INVALID_ARGUMENT (default {limits.max_batch_size})")
    p.add_argument("--max-request-elements", type=int, default=limits.max_elements,
                   help="most elements one input tensor, or one request's outputs (from the "
                        "signature), may have; lowers each model's batch limit to fit "
                        f"(default {limits.max_elements})")
    p.add_argument("--rest-read-timeout-seconds", type=float, default=10.0,
                   help="REST socket read timeout; also closes idle keep-alive connections")
    p.set_defaults(func=_run_serve)


def _run_serve(args) -> int:
    from serving.config import PROMETHEUS_PATH, parse_monitoring_config
    from serving.server import ServerOptions, serve_forever

    if bool(args.model_config_file) == bool(args.model_name and args.model_base_path):
        print("give either --model-config-file or --model-name with --model-base-path",
              file=sys.stderr)
        return 2
    metrics_path = PROMETHEUS_PATH
    if args.monitoring_config_file:
        prom = parse_monitoring_config(Path(args.monitoring_config_file)).prometheus_config
        metrics_path = (prom.path or PROMETHEUS_PATH) if prom.enable else None
    opts = ServerOptions(
        host=args.host, grpc_port=args.port,
        rest_port=None if args.rest_api_port < 0 else args.rest_api_port,
        model_config_file=args.model_config_file, model_name=args.model_name,
        model_base_path=args.model_base_path,
        poll_seconds=args.file_system_poll_wait_seconds,
        model_config_poll_seconds=args.model_config_file_poll_wait_seconds,
        enable_batching=args.enable_batching,
        batching_parameters_file=args.batching_parameters_file,
        max_receive_message_bytes=args.max_receive_message_mb * 1024 * 1024,
        warmup=not args.no_warmup, monitoring_path=metrics_path,
        max_request_batch_size=args.max_request_batch_size,
        max_request_elements=args.max_request_elements,
        rest_read_timeout_s=args.rest_read_timeout_seconds)
    return serve_forever(opts)


# ------------------------------------------------------------------ clients
def _add_client_args(p, signature=True):
    p.add_argument("--server", default="127.0.0.1:8500",
                   help="host:port (gRPC port, or REST port with --rest)")
    p.add_argument("--rest", action="store_true", help="use the REST API instead of gRPC")
    p.add_argument("--model", "--model-name", dest="model", required=True, help="model name")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--version", type=int, help="model version")
    g.add_argument("--label", help="version label (stable, canary)")
    if signature:
        p.add_argument("--signature", default=None, help="signature name (default serving_default)")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds per request")


def _add_predict(sub):
    p = sub.add_parser("predict", help="send images, seeds or a CT DICOM series to a server; "
                                       "write generated PNGs (or a derived DICOM series)")
    _add_client_args(p)
    p.add_argument("images", nargs="*", help="image files (paired / inpainting GANs)")
    p.add_argument("--masks", nargs="*", default=None, help="mask PNGs (inpainting), one per image")
    p.add_argument("--count", type=int, help="number of images (unconditional GANs)")
    p.add_argument("--seed", type=int, default=0, help="first seed (unconditional GANs)")
    p.add_argument("--kind", choices=("paired", "inpainting", "unconditional"),
                   help="override the registry's kind for --model")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--output", default="generated", help="directory for the PNG files")
    p.add_argument("--output-key", default=None, help="output tensor to write (default pixels)")
    p.add_argument("--dicom", metavar="SERIES_DIR",
                   help="a folder holding one CT DICOM series: denoise every slice (any size; "
                        "tiled to the model's input) and write a derived DICOM series to "
                        "--output, which must not exist yet or be empty")
    p.add_argument("--tile-overlap", type=int, default=None,
                   help="with --dicom: pixels shared by neighbouring tiles (default: a quarter "
                        "of the model's input size)")
    p.set_defaults(func=_run_predict)


def _add_metadata(sub):
    p = sub.add_parser("model-metadata", help="GetModelMetadata: signatures of a served model")
    _add_client_args(p, signature=False)
    p.set_defaults(func=_run_metadata)


def _add_status(sub):
    p = sub.add_parser("model-status", help="GetModelStatus: version states of a served model")
    _add_client_args(p, signature=False)
    p.set_defaults(func=_run_status)


def _client(args):
    from serving.client import GrpcClient, RestClient

    cls = RestClient if args.rest else GrpcClient
    return cls(args.server, timeout=args.timeout)


def _report(err) -> int:
    print(f"error: {err}", file=sys.stderr)
    return 1


def _run_predict(args) -> int:
    from serving.client import ServingError, predict_to_files

    if args.dicom:
        return _run_predict_dicom(args)
    try:
        with _client(args) as c:
            paths = predict_to_files(
                c, args.model, images=args.images, masks=args.masks, count=args.count,
                seed=args.seed, kind=args.kind, out_dir=args.output, batch_size=args.batch_size,
                version=args.version, label=args.label, signature=args.signature,
                output_key=args.output_key)
    except (ServingError, ValueError, OSError) as err:
        return _report(err)
    for p in paths:
        print(p)
    return 0


def _run_predict_dicom(args) -> int:
    from serving.client import ServingError
    from serving.dicom_series import predict_series

    extra = [flag for flag, given in (("image files", args.images), ("--masks", args.masks),
                                      ("--count", args.count is not None),
                                      ("--kind", args.kind), ("--signature", args.signature),
                                      ("--output-key", args.output_key)) if given]
    if extra:
        print(f"error: --dicom cannot be combined with {', '.join(extra)}", file=sys.stderr)
        return 2
    try:
        with _client(args) as c:
            paths = predict_series(c, args.model, args.dicom, args.output, version=args.version,
                                   label=args.label, batch_size=args.batch_size,
                                   overlap=args.tile_overlap)
    except (ServingError, ValueError, OSError) as err:
        return _report(err)
    for p in paths:
        print(p)
    return 0


def _run_metadata(args) -> int:
    return _print_json(args, "get_model_metadata")


def _run_status(args) -> int:
    return _print_json(args, "get_model_status")


def _print_json(args, method: str) -> int:
    """Call the client ``method`` (GetModelMetadata / GetModelStatus) and print its JSON."""
    import json

    from serving.client import ServingError

    try:
        with _client(args) as c:
            answer = getattr(c, method)(args.model, version=args.version, label=args.label)
    except ServingError as err:
        return _report(err)
    print(json.dumps(answer, indent=2))
    return 0

