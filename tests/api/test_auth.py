"""Auth of the client API over real gRPC: messages we issued (once), EIP-191 signatures, tokens, API keys,
upstream's error texts, the rate limit."""

from __future__ import annotations

import time
from pathlib import Path

import grpc
import jwt
import pytest
from eth_account import Account
from eth_account.messages import encode_defunct

from hourglass_cli.api.auth import Authenticator, iso_ms
from hourglass_cli.api.server import ApiClient, ApiServer
from hourglass_cli.wire.gen import avs_pb2 as pb
from tests.api.conftest import login, make_config


def _sign(account, message: str) -> str:
    return account.sign_message(encode_defunct(text=message)).signature.hex()


def _error(call) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as info:
        call()
    return info.value


def test_signature_format_has_upstreams_lines_and_a_nonce(client: ApiClient) -> None:
    account = Account.create()
    message = client.call("GetSignatureFormat", pb.GetSignatureFormatReq(wallet=account.address)).message
    lines = message.split("\n")
    assert lines[0] == "Please sign the below text for ownership verification."
    assert lines[1] == ""
    assert [line.split(":", 1)[0] for line in lines[2:]] == [
        "URI", "Chain ID", "Version", "Issued At", "Expire At", "Wallet", "Nonce"]
    assert lines[3] == "Chain ID: 31337" and lines[7] == f"Wallet: {account.address}"
    assert len(lines[8].split(": ")[1]) == 32


def test_get_key_mints_a_token_for_the_signer(client: ApiClient, api_server: ApiServer) -> None:
    token, account = login(client)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["sub"] == account.address and claims["aud"] == ["31337"]
    assert claims["exp"] - claims["iat"] <= 86400
    assert client.call("ListWallets", pb.ListWalletReq(), auth_key=token) == pb.ListWalletResp()


def test_a_message_works_once(client: ApiClient) -> None:
    account = Account.create()
    message = client.call("GetSignatureFormat", pb.GetSignatureFormatReq(wallet=account.address)).message
    signature = _sign(account, message)
    client.call("GetKey", pb.GetKeyReq(message=message, signature=signature))
    err = _error(lambda: client.call("GetKey", pb.GetKeyReq(message=message, signature=signature)))
    assert err.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "already used" in err.details()


def test_a_message_we_did_not_issue_is_refused(client: ApiClient) -> None:
    """Upstream mints a token for any well-formed message, so its signer picks the token's lifetime."""
    account = Account.create()
    now = time.time()
    message = (f"Please sign the below text for ownership verification.\n\nURI: https://app.avaprotocol.org\n"
               f"Chain ID: 31337\nVersion: 1\nIssued At: {iso_ms(now)}\nExpire At: {iso_ms(now + 10 * 365 * 86400)}\n"
               f"Wallet: {account.address}")
    err = _error(lambda: client.call("GetKey", pb.GetKeyReq(message=message, signature=_sign(account, message))))
    assert err.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "not issued by this server" in err.details()


def test_an_altered_message_is_refused(client: ApiClient) -> None:
    account = Account.create()
    message = client.call("GetSignatureFormat", pb.GetSignatureFormatReq(wallet=account.address)).message
    lines = message.split("\n")
    lines[6] = "Expire At: 2099-01-01T00:00:00.000Z"
    forged = "\n".join(lines)
    err = _error(lambda: client.call("GetKey", pb.GetKeyReq(message=forged, signature=_sign(account, forged))))
    assert err.code() == grpc.StatusCode.UNAUTHENTICATED and "altered" in err.details()


def test_another_signer_is_refused(client: ApiClient) -> None:
    owner, thief = Account.create(), Account.create()
    message = client.call("GetSignatureFormat", pb.GetSignatureFormatReq(wallet=owner.address)).message
    err = _error(lambda: client.call("GetKey", pb.GetKeyReq(message=message, signature=_sign(thief, message))))
    assert (err.code(), err.details()) == (grpc.StatusCode.UNAUTHENTICATED, "User Auth key is invalid")
    # the refused attempt did not burn the nonce: the owner can still use the message
    assert client.call("GetKey", pb.GetKeyReq(message=message, signature=_sign(owner, message))).key


@pytest.mark.parametrize(("edit", "code", "text"), [
    (lambda m: "\n".join(m.split("\n")[:7]), grpc.StatusCode.INVALID_ARGUMENT, "Invalid message format"),
    (lambda m: m.replace("Chain ID: 31337", "Chain ID: 5"), grpc.StatusCode.INVALID_ARGUMENT,
     "Invalid chainId: requested chainId 5 does not match SmartWallet chainId 31337"),
    (lambda m: m.replace("Chain ID:", "Chain:"), grpc.StatusCode.INVALID_ARGUMENT,
     "Invalid message format: missing Chain ID"),
    (lambda m: m.replace("Issued At: ", "Issued At: x"), grpc.StatusCode.INVALID_ARGUMENT, "Invalid Issued At format"),
    (lambda m: m.replace("Wallet: ", "Wallet: 0xzz"), grpc.StatusCode.INVALID_ARGUMENT,
     "Invalid wallet address format"),
])
def test_malformed_messages_get_upstreams_errors(client: ApiClient, edit, code, text) -> None:
    account = Account.create()
    message = edit(client.call("GetSignatureFormat", pb.GetSignatureFormatReq(wallet=account.address)).message)
    err = _error(lambda: client.call("GetKey", pb.GetKeyReq(message=message, signature=_sign(account, message))))
    assert (err.code(), err.details()) == (code, text)


def test_malformed_signature_and_wallet(client: ApiClient) -> None:
    account = Account.create()
    message = client.call("GetSignatureFormat", pb.GetSignatureFormatReq(wallet=account.address)).message
    err = _error(lambda: client.call("GetKey", pb.GetKeyReq(message=message, signature="0x1234")))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and "decode client's signature" in err.details()
    err = _error(lambda: client.call("GetSignatureFormat", pb.GetSignatureFormatReq(wallet="")))
    assert (err.code(), err.details()) == (grpc.StatusCode.INVALID_ARGUMENT, "Wallet address is required")
    err = _error(lambda: client.call("GetSignatureFormat", pb.GetSignatureFormatReq(wallet="0x12")))
    assert err.details() == "Invalid Ethereum wallet address format"


def test_signature_v_of_0_or_1_is_accepted(client: ApiClient) -> None:
    account = Account.create()
    message = client.call("GetSignatureFormat", pb.GetSignatureFormatReq(wallet=account.address)).message
    raw = bytearray(account.sign_message(encode_defunct(text=message)).signature)
    raw[64] -= 27
    assert client.call("GetKey", pb.GetKeyReq(message=message, signature="0x" + raw.hex())).key


def test_rpcs_without_a_good_token_are_unauthenticated(client: ApiClient, tmp_path: Path) -> None:
    err = _error(lambda: client.call("ListWallets", pb.ListWalletReq()))
    assert (err.code(), err.details()) == (grpc.StatusCode.UNAUTHENTICATED,
                                           "User authentication error: missing auth header")
    err = _error(lambda: client.call("ListWallets", pb.ListWalletReq(), auth_key="garbage"))
    assert err.details() == "User authentication error: User Auth key is invalid"
    forged = jwt.encode({"sub": Account.create().address, "aud": ["31337"], "exp": int(time.time()) + 60},
                        "another-secret-that-is-long-enough-for-hs256", algorithm="HS256")
    err = _error(lambda: client.call("ListWallets", pb.ListWalletReq(), auth_key=forged))
    assert err.code() == grpc.StatusCode.UNAUTHENTICATED
    secret = (tmp_path / "api-jwt.secret").read_text().strip().encode()
    other_chain = jwt.encode({"sub": Account.create().address, "aud": ["1"], "exp": int(time.time()) + 60}, secret,
                             algorithm="HS256")
    err = _error(lambda: client.call("ListWallets", pb.ListWalletReq(), auth_key=other_chain))
    assert err.details() == "User authentication error: User Auth key is invalid: invalid chainId in audience"
    expired = jwt.encode({"sub": Account.create().address, "aud": ["31337"], "exp": int(time.time()) - 5}, secret,
                         algorithm="HS256")
    err = _error(lambda: client.call("ListWallets", pb.ListWalletReq(), auth_key=expired))
    assert "expired" in err.details()
    not_address = jwt.encode({"sub": "apikey", "aud": ["31337"], "exp": int(time.time()) + 60}, secret,
                             algorithm="HS256")
    err = _error(lambda: client.call("ListWallets", pb.ListWalletReq(), auth_key=not_address))
    assert err.details().endswith("subject must be a valid EOA address")
    # CreateTask words it as upstream does
    err = _error(lambda: client.call("CreateTask", pb.CreateTaskReq(), auth_key="garbage"))
    assert err.details() == "User Auth key is invalid"


def test_token_lifetime_is_capped_by_config(tmp_path: Path) -> None:
    server = ApiServer(make_config(tmp_path, max_token_lifetime=120)).start()
    try:
        c = ApiClient(server.address)
        token, _ = login(c)
        claims = jwt.decode(token, options={"verify_signature": False})
        assert claims["exp"] - claims["iat"] <= 120
    finally:
        server.stop()


def test_api_keys(client: ApiClient, api_server: ApiServer) -> None:
    auth: Authenticator = api_server.service.auth
    user, other = Account.create(), Account.create()
    _, admin_key = auth.create_api_key(Account.create().address, ("admin",), 3600)
    key_id, own_key = auth.create_api_key(user.address, ("readonly",), 3600)

    def get_key(wallet, key):
        message = client.call("GetSignatureFormat", pb.GetSignatureFormatReq(wallet=wallet)).message
        return client.call("GetKey", pb.GetKeyReq(message=message, signature=key)).key

    # admin keys act for any wallet; others only for their subject
    token = get_key(other.address, admin_key)
    assert jwt.decode(token, options={"verify_signature": False})["sub"] == other.address
    assert get_key(user.address, own_key)
    err = _error(lambda: get_key(other.address, own_key))
    assert (err.code(), err.details()) == (grpc.StatusCode.UNAUTHENTICATED,
                                           "User authentication error: API key is invalid")
    # an API key whose subject is an address is also an authkey
    minted = get_key(user.address, own_key)
    assert client.call("ListWallets", pb.ListWalletReq(), auth_key=own_key) == pb.ListWalletResp()
    # revoking ends the key and every token minted from it
    assert api_server.service.store.revoke_api_key(key_id, time.time())
    for token in (own_key, minted):
        err = _error(lambda token=token: client.call("ListWallets", pb.ListWalletReq(), auth_key=token))
        assert "revoked" in err.details()
    err = _error(lambda: get_key(user.address, own_key))
    assert err.details() == "User authentication error: API key is invalid"


def test_a_flooding_user_is_limited_and_others_are_not(tmp_path: Path) -> None:
    server = ApiServer(make_config(tmp_path, requests_per_second=1, burst=5)).start()
    try:
        c = ApiClient(server.address)
        flooder, _ = login(c)
        calm, _ = login(c)
        codes = []
        for _ in range(8):
            try:
                c.call("ListWallets", pb.ListWalletReq(), auth_key=flooder)
                codes.append("ok")
            except grpc.RpcError as exc:
                codes.append(exc.code().name)
        assert codes[:5] == ["ok"] * 5 and "RESOURCE_EXHAUSTED" in codes[5:]
        assert c.call("ListWallets", pb.ListWalletReq(), auth_key=calm) == pb.ListWalletResp()
    finally:
        server.stop()


def test_sign_in_calls_are_limited_per_client_address(tmp_path: Path) -> None:
    """GetSignatureFormat stores a nonce per call: a flood before sign-in is limited too."""
    server = ApiServer(make_config(tmp_path, requests_per_second=1, burst=3)).start()
    try:
        c = ApiClient(server.address)
        codes = []
        for _ in range(6):
            try:
                c.call("GetSignatureFormat", pb.GetSignatureFormatReq(wallet=Account.create().address))
                codes.append("ok")
            except grpc.RpcError as exc:
                codes.append(exc.code().name)
        assert codes[:3] == ["ok"] * 3 and "RESOURCE_EXHAUSTED" in codes[3:]
    finally:
        server.stop()
