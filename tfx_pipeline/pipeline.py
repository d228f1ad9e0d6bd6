"""``create_pipeline``: a pure function from a PipelineConfig to a TFX Pipeline.

Per dataset (shared by the GANs that train on it)::

    ImportExampleGen_<data> -> StatisticsGen_<data>

Per GAN::

    CuratedSchemaGen_<gan> -> ExampleValidator_<gan> -> ValidationGate_<gan>
      -> Transform_<gan> -> Trainer_<gan> -> GanEvaluator_<gan> -> Pusher_<gan>

    Pusher_<gan> -> BulkInferrer_<gan>   (when GanRun.bulk_infer_split is set)

GanEvaluator_<gan> compares the new generator with the strongest simple
method of its task (non-local means, biharmonic fill, bicubic/Lanczos, the
real-vs-real floor; docs/EVALUATION.md) and with the newest generator already
pushed to ``<serving_root>/<gan>/``; the Pusher pushes only what it blessed and
then rewrites ``<serving_root>/models.config`` to list the GANs that have a
pushed version (tfx_pipeline.components.pusher). There is no Resolver: the
serving root is the record of what was blessed and shipped, and open-source
Kubeflow Pipelines cannot run Resolver tasks.

Runners (local, Beam, Kubeflow V2) only resolve flags into a PipelineConfig
and call this function.
"""
from __future__ import annotations

import json
import os
import re

from tfx import v1 as tfx
from tfx.dsl.components.base import executor_spec
from tfx.proto import example_gen_pb2

from serving.config import join_base_path
from tfx_pipeline.components.bulk_inference import GanBulkInferrer
from tfx_pipeline.components.custom import CuratedSchemaGen, ValidationGate
from tfx_pipeline.components.evaluator import GanEvaluator
from tfx_pipeline.components.pusher import ServingPusherExecutor
from tfx_pipeline.configs import GanRun, PipelineConfig
from trainer import features as F
from trainer.config import TrainerConfig, TransformConfig

PREPROCESSING_FN = "trainer.preprocessing.preprocessing_fn"
RUN_FN = "trainer.task.run_fn"


def span_input_config() -> example_gen_pb2.Input:
    """train/eval splits of the latest span: <root>/Span-N/{train,eval}/*."""
    span = F.SPAN_GLOB
    return example_gen_pb2.Input(splits=[
        example_gen_pb2.Input.Split(name=split, pattern=f"{span}/{split}/*")
        for split in F.SPLITS])


def dataset_ids(runs: tuple[GanRun, ...]) -> dict[str, str]:
    """data_root -> a component-id-safe name, unique within the pipeline."""
    out: dict[str, str] = {}
    for run in runs:
        if run.data_root in out:
            continue
        base = re.sub(r"[^A-Za-z0-9_]", "_", os.path.basename(os.path.normpath(run.data_root))) or "data"
        name, k = base, 1
        while name in out.values():
            k += 1
            name = f"{base}{k}"
        out[run.data_root] = name
    return out


def trainer_config(config: PipelineConfig, run: GanRun) -> TrainerConfig:
    """What ``trainer.task.run_fn`` reads; a change here re-runs only this GAN's Trainer."""
    return TrainerConfig(
        gan=run.gan,
        hparams=run.hparams_dict(),
        steps_per_epoch=run.steps_per_epoch,
        strategy=config.strategy,
        materialized=config.materialize,
        ct_window=run.ct_window,
        bit_depth=run.bit_depth,
        ema_decay=run.ema_decay,
        backup_dir=os.path.join(config.backup_root, run.gan),
        code=code_fingerprint(),
    )


def transform_config(run: GanRun, shapes: dict[str, list[int]]) -> TransformConfig:
    """What ``trainer.preprocessing.preprocessing_fn`` reads."""
    return TransformConfig(shapes=shapes, ct_window=run.ct_window, code=code_fingerprint())


def model_shapes(run: GanRun) -> dict[str, list[int]]:
    spec = run.spec
    hp = spec.hparams(run.hparams)
    return {role: list(shape) for role, shape in spec.load().input_shapes(hp).items()}


def create_pipeline(config: PipelineConfig) -> tfx.dsl.Pipeline:
    components = []
    gens, stats = {}, {}
    for root, name in dataset_ids(config.runs).items():
        gen = tfx.components.ImportExampleGen(
            input_base=root, input_config=span_input_config()).with_id(f"ImportExampleGen_{name}")
        stat = tfx.components.StatisticsGen(
            examples=gen.outputs["examples"]).with_id(f"StatisticsGen_{name}")
        gens[root], stats[root] = gen, stat
        components += [gen, stat]

    for run in config.runs:
        gan, gen, stat = run.gan, gens[run.data_root], stats[run.data_root]
        shapes = model_shapes(run)
        schema = CuratedSchemaGen(shapes_json=json.dumps(shapes, sort_keys=True),
                                  bit_depth=run.bit_depth).with_id(f"CuratedSchemaGen_{gan}")
        validator = tfx.components.ExampleValidator(
            statistics=stat.outputs["statistics"],
            schema=schema.outputs["schema"]).with_id(f"ExampleValidator_{gan}")
        gate = ValidationGate(anomalies=validator.outputs["anomalies"],
                              schema=schema.outputs["schema"]).with_id(f"ValidationGate_{gan}")
        transform = tfx.components.Transform(
            examples=gen.outputs["examples"],
            schema=gate.outputs["validated_schema"],
            preprocessing_fn=PREPROCESSING_FN,
            custom_config=transform_config(run, shapes).to_dict(),
            materialize=config.materialize,
            disable_statistics=True,
        ).with_id(f"Transform_{gan}")
        trainer = tfx.components.Trainer(
            run_fn=RUN_FN,
            examples=(transform.outputs["transformed_examples"] if config.materialize
                      else gen.outputs["examples"]),
            transform_graph=transform.outputs["transform_graph"],
            schema=gate.outputs["validated_schema"],
            train_args=tfx.proto.TrainArgs(num_steps=run.train_steps),
            eval_args=tfx.proto.EvalArgs(num_steps=run.eval_steps),
            custom_config=trainer_config(config, run).to_dict(),
        ).with_id(f"Trainer_{gan}")
        push_base = join_base_path(config.serving_root, gan)
        evaluator = GanEvaluator(
            examples=gen.outputs["examples"],
            model=trainer.outputs["model"],
            model_run=trainer.outputs["model_run"],
            transform_graph=transform.outputs["transform_graph"],
            pushed_model_base=push_base,
            gan=gan,
            eval_config=run.evaluation.to_json(),
            run_info=json.dumps({"hparams": run.hparams_dict(), "ct_window": list(run.ct_window),
                                 "dataset": os.path.basename(os.path.normpath(run.data_root)),
                                 "code": code_fingerprint()},
                                sort_keys=True),
        ).with_id(f"GanEvaluator_{gan}")
        pusher = tfx.components.Pusher(
            model=trainer.outputs["model"],
            model_blessing=evaluator.outputs["blessing"],
            push_destination=tfx.proto.PushDestination(
                filesystem=tfx.proto.PushDestination.Filesystem(
                    base_directory=push_base)),
            custom_executor_spec=executor_spec.ExecutorClassSpec(ServingPusherExecutor),
        ).with_id(f"Pusher_{gan}")
        components += [schema, validator, gate, transform, trainer, evaluator, pusher]
        if run.bulk_infer_split:
            components.append(GanBulkInferrer(
                examples=gen.outputs["examples"], pushed_model=pusher.outputs["pushed_model"],
                gan=gan, split=run.bulk_infer_split,
                shapes_json=json.dumps(shapes, sort_keys=True)).with_id(f"BulkInferrer_{gan}"))

    metadata = (tfx.orchestration.metadata.sqlite_metadata_connection_config(config.metadata_path)
                if config.metadata_path else None)
    return tfx.dsl.Pipeline(
        pipeline_name=config.pipeline_name,
        pipeline_root=config.pipeline_root,
        components=components,
        enable_cache=config.enable_cache,
        metadata_connection_config=metadata,
        beam_pipeline_args=list(config.beam_pipeline_args),
    )


def code_fingerprint() -> str:
    """Hash of the trainer package's source.

    Transform and Trainer are given module paths (not module files), so TFX's
    cache would not notice a code change; this fingerprint in their
    custom_config makes it do so.
    """
    import hashlib
    import trainer
    root = os.path.dirname(trainer.__file__)
    digest = hashlib.sha256()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        for name in sorted(f for f in filenames if f.endswith(".py")):
            path = os.path.join(dirpath, name)
            digest.update(os.path.relpath(path, root).encode())
            with open(path, "rb") as fh:
                digest.update(fh.read())
    return digest.hexdigest()[:16]
