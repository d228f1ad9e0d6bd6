"""`tfxgan run` options: blessing thresholds per GAN, Beam's S3 options for s3:// roots."""
from __future__ import annotations

import pytest

from tfx_pipeline.cli import build_parser
from tfx_pipeline.runners.cli import build_config
from trainer.blessing import EvalConfig


def config(*argv):
    return build_config(build_parser().parse_args(["run", *argv]))


def test_evaluation_overrides_one_gans_thresholds():
    cfg = config("--gans", "dcgan", "vanilla_gan", "--evaluation", 'dcgan={"max_fd_fraction": 2.5}')
    runs = {r.gan: r for r in cfg.runs}
    assert runs["dcgan"].evaluation == EvalConfig(max_fd_fraction=2.5)
    assert runs["vanilla_gan"].evaluation == EvalConfig()


def test_hparams_turn_the_pix2pix_self_ensemble_off_on_top_of_the_quick_preset():
    """docs/SERVING.md: train with self_ensemble false to serve the plain generator."""
    from trainer import registry
    default = {r.gan: r for r in config("--gans", "pix2pix_wgan_gp").runs}["pix2pix_wgan_gp"]
    (run,) = config("--gans", "pix2pix_wgan_gp",
                    "--hparams", 'pix2pix_wgan_gp={"self_ensemble": false}').runs
    hp = registry.get("pix2pix_wgan_gp").hparams(run.hparams)
    assert default.hparams["self_ensemble"] is True and hp.self_ensemble is False
    assert {k: v for k, v in run.hparams.items() if k != "self_ensemble"} == {
        k: v for k, v in default.hparams.items() if k != "self_ensemble"}   # the rest is kept


@pytest.mark.parametrize("value, match", [
    ('dcgan={"max_fd_fraction": 2', "--evaluation value is not JSON"),
    ('dcgan={"no_such_key": 1}', r"unknown EvalConfig key\(s\) \['no_such_key'\]"),
    ('dcgan={"max_examples": 1}', "max_examples must be >= 2, received 1"),
    ('dcgan={"class_samples": 0}', "class_samples must be >= 2, received 0"),
    ('nope={}', "nope")])
def test_bad_evaluation_values_are_named(value, match):
    with pytest.raises(ValueError, match=match):
        config("--gans", "dcgan", "--evaluation", value)


def test_local_roots_get_no_s3_options(monkeypatch, tmp_path):
    monkeypatch.setenv("S3_ENDPOINT", "http://127.0.0.1:9")
    cfg = config("--gans", "dcgan", "--home", str(tmp_path), "--beam-arg=--direct_num_workers=2")
    assert cfg.beam_pipeline_args == ("--direct_num_workers=2",)


@pytest.mark.tfx
def test_s3_roots_get_the_endpoint_and_keys_of_the_environment(monkeypatch):
    for k, v in {"S3_ENDPOINT": "http://127.0.0.1:9", "AWS_ACCESS_KEY_ID": "k",
                 "AWS_SECRET_ACCESS_KEY": "s", "AWS_REGION": "us-east-1"}.items():
        monkeypatch.setenv(k, v)
    cfg = config("--gans", "dcgan", "--data-root", "s3://bucket/data", "--pipeline-root",
                 "s3://bucket/pipeline", "--serving-root", "s3://bucket/serving",
                 "--metadata", "/tmp/m.sqlite", "--beam-arg=--s3_region_name=eu-west-1")
    assert cfg.runs[0].data_root == "s3://bucket/data/digits"
    assert cfg.beam_pipeline_args == (
        "--s3_region_name=eu-west-1", "--s3_endpoint_url=http://127.0.0.1:9",
        "--s3_access_key_id=k", "--s3_secret_access_key=s", "--beam_plugins=tensorflow_io")


@pytest.mark.parametrize("argv, match", [
    (["--workers", "0"], "--workers must be >= 1, received 0"),
    (["--workers", "2", "--runner", "beam"], "--workers > 1 needs the local runner")])
def test_bad_worker_counts_are_refused_before_anything_runs(argv, match, tmp_path, capsys):
    from tfx_pipeline.runners.cli import run_pipeline
    args = build_parser().parse_args(["run", "--gans", "dcgan", "--home", str(tmp_path), *argv])
    assert run_pipeline(args) == 2
    assert match in capsys.readouterr().err
    assert not (tmp_path / "metadata.sqlite").exists()


def test_the_demo_runs_two_workers_and_run_one_by_default():
    assert build_parser().parse_args(["demo"]).workers == 2
    assert build_parser().parse_args(["run"]).workers == 1
