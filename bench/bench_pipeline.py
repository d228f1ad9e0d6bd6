"""Pipeline figures, measured side by side in one run.

    .venv/bin/python bench/bench_pipeline.py [--gan pix2pix_wgan_gp] [--steps 60] [--beam-mode multi_processing]

1. cold run of the pipeline for one GAN (quick preset) vs a fully cached re-run
   (wall time, through the `tfxgan run` CLI as a user runs it);
2. Transform: the component's wall time from ML Metadata, and the transform
   graph's own throughput in images/s (tf.data over the raw eval+train records);
3. Trainer steady-state step time (its real input pipeline and callbacks,
   ``trainer.task.fit_gan``) over a bare Keras ``fit()`` of the same model on the
   same batches held in memory, for materialised Transform output and for the
   Transform graph applied inside the input pipeline; the difference is the
   share of a step spent waiting for input.
"""
import argparse
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from bench import harness  # noqa: E402


def tfxgan(*args):
    start = time.monotonic()
    subprocess.run([sys.executable, "-m", "tfx_pipeline.cli", *args], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.monotonic() - start


def execution_seconds(metadata, node):
    from ml_metadata.metadata_store import metadata_store
    from ml_metadata.proto import metadata_store_pb2
    cfg = metadata_store_pb2.ConnectionConfig()
    cfg.sqlite.filename_uri = metadata
    store = metadata_store.MetadataStore(cfg)
    ctx = store.get_context_by_type_and_name("node", f"tfx-gan.{node}")
    ex = sorted(store.get_executions_by_context(ctx.id), key=lambda e: e.id)[0]
    return (ex.last_update_time_since_epoch - ex.create_time_since_epoch) / 1000.0


class StepTimer:
    """Keras callback: seconds of each train batch after ``skip`` warm-up batches."""

    def __new__(cls, skip):
        import keras

        class _Timer(keras.callbacks.Callback):
            def __init__(self):
                super().__init__()
                self.times, self.n = [], 0

            def on_train_batch_begin(self, batch, logs=None):
                self.t0 = time.perf_counter()

            def on_train_batch_end(self, batch, logs=None):
                self.n += 1
                if self.n > skip:
                    self.times.append(time.perf_counter() - self.t0)
        return _Timer()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--gan", default="pix2pix_wgan_gp")
    p.add_argument("--steps", type=int, default=60, help="timed training steps per variant")
    p.add_argument("--beam-mode", default="multi_processing", choices=("multi_processing", "in_memory"))
    p.add_argument("--keep", action="store_true", help="keep the work folder")
    args = p.parse_args()

    from trainer import registry
    spec = registry.get(args.gan)
    work = tempfile.mkdtemp(prefix="bench_pipeline_")
    results = {"config": vars(args)}
    try:
        data, home = os.path.join(work, "data"), os.path.join(work, "home")
        tfxgan("demo-data", spec.dataset, "-o", data, "--no-progress")
        run = ["run", "--home", home, "--data-root", data, "--gans", args.gan, "--train-steps", "50",
               "--beam-mode", args.beam_mode]
        cold = tfxgan(*run)
        warm = tfxgan(*run)
        results["pipeline"] = {"cold_s": cold, "cached_s": warm, "cached_over_cold": warm / cold}
        metadata = os.path.join(home, "metadata.sqlite")
        transform_s = execution_seconds(metadata, f"Transform_{args.gan}")
        with open(os.path.join(data, spec.dataset, "Span-0", "ingest_report.json")) as fh:
            n_records = sum(json.load(fh)["counts"].values())
        results["transform_component"] = {"seconds": transform_s, "records": n_records,
                                          "records_per_s": n_records / transform_s}

        import numpy as np
        import tensorflow as tf
        import tensorflow_transform as tft
        from tfx_bsl.public import tfxio
        from trainer import task
        results["ceiling"] = harness.matmul_ceiling()

        graph_dir = sorted(glob.glob(os.path.join(home, "pipeline", f"Transform_{args.gan}",
                                                  "transform_graph", "*")))[-1]
        tft_out = tft.TFTransformOutput(graph_dir)
        raw_files = os.path.join(data, spec.dataset, "Span-0", "*", "*.tfrecord")
        xf_files = os.path.join(home, "pipeline", f"Transform_{args.gan}", "transformed_examples",
                                "*", "Split-train", "*")

        # Transform graph throughput on raw records (what the Transform component computes).
        def raw_dataset(batch, epochs=1):
            rec = tfxio.TFExampleRecord(raw_files, schema=tft_out.raw_metadata.schema)
            return rec.TensorFlowDataset(tfxio.TensorFlowDatasetOptions(batch_size=batch, num_epochs=epochs))
        layer = tft_out.transform_features_layer()

        def transform_all():
            for feats in raw_dataset(32):
                layer(feats)
        stats = harness.measure(transform_all, warmup=1, repeats=3)
        results["transform_graph"] = stats.summary(per=n_records, unit="images/s")

        class Accessor:  # what the Trainer's fn_args.data_accessor does for tf.Example data
            @staticmethod
            def tf_dataset_factory(pattern, options, schema):
                files = pattern if isinstance(pattern, str) else pattern[0]
                return tfxio.TFExampleRecord(files, schema=schema).TensorFlowDataset(options)

        module = spec.load()
        hp = spec.hparams(spec.presets().quick)
        shapes = module.input_shapes(hp)
        variants = {}
        for materialized in (True, False):
            files = xf_files if materialized else raw_files
            ds = task.make_dataset(files, Accessor, tft_out, shapes, hp.batch_size,
                                   materialized=materialized, shuffle=True, seed=0)
            eval_batch = next(iter(ds))
            # Bare fit: the same batches, already in memory, no callbacks.
            batches = [b for _, b in zip(range(8), ds)]
            stacked = {k: tf.stack([b[k] for b in batches]) for k in shapes}
            mem = tf.data.Dataset.from_tensor_slices(stacked).repeat()
            # One finite pass for data-dependent state (dcgan's clusters).
            one_pass = tf.data.Dataset.from_tensor_slices(stacked)
            timings = {}
            for name in ("trainer", "bare"):
                tf.keras.utils.set_random_seed(0)
                model = module.build(hp)
                timer = StepTimer(skip=5)
                if name == "trainer":
                    task.fit_gan(model, spec.kind, ds, eval_batch, train_steps=args.steps + 5,
                                 steps_per_epoch=args.steps + 5,
                                 backup_dir=os.path.join(work, f"backup{materialized}"),
                                 log_dir=os.path.join(work, f"logs{materialized}"),
                                 callbacks=[timer], verbose=0, adapt_data=one_pass)
                else:
                    model.adapt(one_pass)
                    model.fit(mem, epochs=1, steps_per_epoch=args.steps + 5, callbacks=[timer], verbose=0)
                timings[name] = float(np.median(timer.times))
            # Input alone: how fast the real input pipeline yields batches.
            it = iter(ds)
            next(it)
            t0 = time.perf_counter()
            for _ in range(args.steps):
                next(it)
            input_s = (time.perf_counter() - t0) / args.steps
            variants["materialized" if materialized else "transform_in_trainer"] = {
                "trainer_step_s": timings["trainer"], "bare_fit_step_s": timings["bare"],
                "trainer_over_bare": timings["trainer"] / timings["bare"],
                "input_only_batch_s": input_s,
                "input_wait_fraction": max(0.0, timings["trainer"] - timings["bare"]) / timings["trainer"],
            }
        results["trainer"] = variants
        path = harness.save(f"pipeline_{args.gan}", results)
        print(json.dumps(results, indent=2))
        print(f"saved {path}")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
