"""Fixtures of the client API tests: a real gRPC server on loopback over a real SQLite store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct

from hourglass_cli.api.config import parse_api_section
from hourglass_cli.api.server import ApiClient, ApiServer
from hourglass_cli.wire.gen import avs_pb2 as pb


def make_config(tmp_path: Path, **values):
    return parse_api_section({"port": 0, "chain_id": 31337, **values}, "api.toml", tmp_path / "api.toml")


@pytest.fixture
def api_server(tmp_path: Path) -> Iterator[ApiServer]:
    server = ApiServer(make_config(tmp_path)).start()
    yield server
    server.stop()


@pytest.fixture
def client(api_server: ApiServer) -> Iterator[ApiClient]:
    c = ApiClient(api_server.address)
    yield c
    c.close()


def login(client: ApiClient, account=None) -> tuple[str, object]:
    """(token, account) through GetSignatureFormat + an EIP-191 signature + GetKey."""
    account = account or Account.create()
    message = client.call("GetSignatureFormat", pb.GetSignatureFormatReq(wallet=account.address)).message
    signature = account.sign_message(encode_defunct(text=message)).signature.hex()
    return client.call("GetKey", pb.GetKeyReq(message=message, signature=signature)).key, account
