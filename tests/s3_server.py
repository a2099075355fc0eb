"""An S3-compatible server for tests: moto's server mode on a free port, real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import boto3
from moto.server import ThreadedMotoServer


@dataclass(frozen=True, slots=True)
class S3Server:
    """Where the server listens and the credentials it takes (any, for moto)."""

    endpoint: str
    access_key: str = "testing"
    secret_key: str = "testing"
    region: str = "us-east-1"

    def create_bucket(self, name: str) -> None:
        """Make a bucket to test in."""
        client = boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=self.region,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
        )
        client.create_bucket(Bucket=name)
        client.close()


@contextmanager
def s3_server() -> Iterator[S3Server]:
    """Run moto's server on 127.0.0.1, port 0, until the block ends."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield S3Server(f"http://{host}:{port}")
    finally:
        server.stop()
