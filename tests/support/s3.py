"""A loopback S3 server (moto in server mode) for the object-store tests.

``loopback_s3()`` starts ``moto_server`` on a free 127.0.0.1 port as a subprocess,
waits (bounded) until it answers, creates a bucket with boto3 and yields the
environment that tensorflow-io, boto3 and ``tfxgan`` read (S3_ENDPOINT, dummy AWS
keys, ...). The server is killed on exit. Nothing leaves the machine.
"""
from __future__ import annotations

import contextlib
import dataclasses
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

STARTUP_TIMEOUT_S = 30.0
REGION = "us-east-1"


@dataclasses.dataclass(frozen=True)
class LoopbackS3:
    endpoint: str            # http://127.0.0.1:PORT
    bucket: str              # created, empty
    env: dict                # the variables to export for TF, Beam and boto3

    def uri(self, *parts: str) -> str:
        return "/".join([f"s3://{self.bucket}", *parts])

    def client(self, config=None):
        """A boto3 S3 client of this server (``config``: a botocore Config)."""
        import boto3
        return boto3.client("s3", endpoint_url=self.endpoint, region_name=REGION,
                            aws_access_key_id=self.env["AWS_ACCESS_KEY_ID"],
                            aws_secret_access_key=self.env["AWS_SECRET_ACCESS_KEY"],
                            config=config)

    def keys(self, prefix: str = "") -> list[str]:
        """Every object key under ``prefix`` (paginated)."""
        out = []
        for page in self.client().get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=prefix):
            out += [o["Key"] for o in page.get("Contents", [])]
        return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _moto_server_command(port: int) -> list[str]:
    exe = os.path.join(os.path.dirname(sys.executable), "moto_server")
    if not os.path.exists(exe):
        exe = "moto_server"
    return [exe, "-H", "127.0.0.1", "-p", str(port)]


def _wait_until_up(proc: subprocess.Popen, endpoint: str, timeout: float, log) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            log.seek(0)
            raise RuntimeError(f"moto_server exited with {proc.returncode}: "
                               f"{log.read().decode(errors='replace')[-2000:]}")
        try:
            with urllib.request.urlopen(endpoint + "/moto-api/", timeout=1):
                return
        except (urllib.error.URLError, OSError):
            time.sleep(0.2)
    raise TimeoutError(f"moto_server did not answer at {endpoint} within {timeout:.0f}s")


@contextlib.contextmanager
def loopback_s3(bucket: str = "tfx-gan-test", timeout: float = STARTUP_TIMEOUT_S):
    """Yield a LoopbackS3 with ``bucket`` created; kill the server afterwards."""
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    # The server logs every request: to a file, never a pipe nobody drains (a full
    # pipe blocks the server's logging thread, and with it every request).
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen(_moto_server_command(port), stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_until_up(proc, endpoint, timeout, log)
        env = {
            "S3_ENDPOINT": endpoint,         # tensorflow-io; tfxgan derives Beam's option from it
            "S3_USE_HTTPS": "0",
            "S3_VERIFY_SSL": "0",
            "AWS_REGION": REGION,
            "AWS_ACCESS_KEY_ID": "testing",  # moto accepts any key
            "AWS_SECRET_ACCESS_KEY": "testing",
        }
        server = LoopbackS3(endpoint=endpoint, bucket=bucket, env=env)
        server.client().create_bucket(Bucket=bucket)
        yield server
    finally:
        proc.kill()
        proc.wait(timeout=10)
        log.close()


@contextlib.contextmanager
def exported(env: dict):
    """Set ``env`` in os.environ for the block, restoring what was there."""
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
