"""`tfxgan run --workers 2`: a failed part stops nothing else. (tests/e2e runs the whole
pipeline with two workers and checks that one process trains the same weights.)"""
from support.pipeline_run import node_states, tfxgan


def test_a_failed_part_names_its_component_and_the_other_part_finishes(tmp_path):
    data = tmp_path / "data"
    tfxgan("demo-data", "sr", "inpainting", "-o", str(data), "--count", "12", "--no-progress")
    # pix2pix reads the inpainting photographs (RGB, 8-bit, no input/target pair):
    # its validation gate stops it while srrescycgan trains in the other worker.
    home = tmp_path / "home"
    proc = tfxgan("run", "--home", str(home), "--data-root", str(data),
                  "--gans", "pix2pix_wgan_gp", "srrescycgan",
                  "--data", f"pix2pix_wgan_gp={data / 'inpainting'}", "--train-steps", "1",
                  "--hparams", 'srrescycgan={"batch_size": 2}', "--beam-mode", "in_memory",
                  "--workers", "2", check=False)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "error: component ValidationGate_pix2pix_wgan_gp failed" in proc.stderr, proc.stderr
    assert "does not match the GAN's schema" in proc.stderr
    states = node_states(home / "metadata.sqlite")
    assert states["ValidationGate_pix2pix_wgan_gp"] == ["FAILED"]
    assert not states.get("Trainer_pix2pix_wgan_gp")
    for node in ("Trainer_srrescycgan", "GanEvaluator_srrescycgan", "Pusher_srrescycgan"):
        assert states[node] == ["COMPLETE"], (node, states.get(node))
