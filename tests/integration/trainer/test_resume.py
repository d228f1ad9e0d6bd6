"""A Trainer killed mid-run resumes from its last finished epoch (BackupAndRestore)."""
import os
import signal
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def worker(tmp_path, sleep):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([ROOT, os.path.join(ROOT, "tests")]),
               TF_CPP_MIN_LOG_LEVEL="2")
    return subprocess.Popen(
        [sys.executable, "-m", "support.resume_worker", "--backup", str(tmp_path / "backup"),
         "--logs", str(tmp_path / "logs"), "--sleep", str(sleep)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def test_killed_training_resumes_from_last_epoch(tmp_path):
    first = worker(tmp_path, sleep=0.3)
    lines = []
    deadline = time.time() + 180
    while time.time() < deadline:
        line = first.stdout.readline()
        assert line, f"worker ended early: {first.stderr.read()[-3000:]}"
        lines.append(line.split())
        if lines[-1][:2] == ["EPOCH_END", "1"]:
            break
    first.send_signal(signal.SIGKILL)   # no clean-up: as if the machine went away
    first.wait()
    saved_checksum = lines[-1][2]
    assert not any(line[0] == "DONE" for line in lines)

    second = worker(tmp_path, sleep=0.0)
    out, err = second.communicate(timeout=300)
    assert second.returncode == 0, err[-3000:]
    events = [line.split() for line in out.splitlines()]
    begins = [int(e[1]) for e in events if e[0] == "EPOCH_BEGIN"]
    assert begins == [2, 3, 4, 5], begins            # epochs 0 and 1 are not trained again
    train_begin = next(e for e in events if e[0] == "TRAIN_BEGIN")
    assert train_begin[1] == saved_checksum           # the weights of the last finished epoch
    assert events[-1] == ["DONE"]
    backup = tmp_path / "backup"                      # a finished run removes its backup
    assert not backup.exists() or not os.listdir(backup)
