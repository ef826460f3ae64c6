"""DevKit-style payload encoding and result decoding (no chain needed)."""

from __future__ import annotations

import pytest
from eth_abi import decode, encode

from hourglass_cli.errors import UsageError
from hourglass_cli.tasks.payload import decode_result, encode_payload, parse_payload, split_types

ADDR = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"


@pytest.mark.parametrize("signature, args, types, values", [
    ("(uint256)", "(5)", ["uint256"], (5,)),
    ("uint256", "5", ["uint256"], (5,)),
    ("(uint256,string)", '(5,"hi, there")', ["uint256", "string"], (5, "hi, there")),
    ("(int8,uint16)", "(-128, 0xff)", ["int8", "uint16"], (-128, 255)),
    ("(bool,bool)", "(true, False)", ["bool", "bool"], (True, False)),
    ("(address)", f"({ADDR.lower()})", ["address"], (ADDR.lower(),)),
    ("(bytes,bytes4)", "(0xdeadbeef, 0x01)", ["bytes", "bytes4"], (bytes.fromhex("deadbeef"), b"\x01\0\0\0")),
    ("(uint256[],string[2])", '([1, 2, 3], ["a", "b"])', ["uint256[]", "string[2]"], ((1, 2, 3), ("a", "b"))),
    ("(uint256[][])", "([[1],[2,3],[]])", ["uint256[][]"], (((1,), (2, 3), ()),)),
    ("((uint256,string),bool)", '((7,"x"),true)', ["(uint256,string)", "bool"], ((7, "x"), True)),
    ("(string)", r'("say \"hi\"")', ["string"], ('say "hi"',)),
    ("(uint256)", "(1_000)", ["uint256"], (1000,)),
])
def test_encodes_like_eth_abi(signature: str, args: str, types: list[str], values: tuple) -> None:
    data = encode_payload(signature, args)
    assert decode(types, data) == values
    assert split_types(signature) == types


@pytest.mark.parametrize("signature, args, message", [
    ("(uint256)", "(x)", "argument 1 (uint256): expected an integer"),
    ("(uint8)", "(256)", "256 is out of range for uint8"),
    ("(uint256)", "(-1)", "out of range for uint256"),
    ("(address)", "(0x1234)", "argument 1 (address): expected a 20-byte 0x address"),
    ("(bool)", "(yes)", "expected true or false"),
    ("(uint256,string)", "(5)", "has 2 type(s) but --args gives 1 value(s)"),
    ("(uint256[])", "(5)", "expected an array"),
    ("(uint256[2])", "([1])", "expected 2 items"),
    ("(string)", '("open', "unterminated string"),
    ("(uint256)", "(5", "missing ')'"),
    ("(uint256)", "(5) 6", "unexpected text after"),
    ("(uint257)", "(5)", "invalid --signature"),
    ("(bytes2)", "(0x010203)", "at most 2 bytes"),
])
def test_bad_input_says_what_was_expected(signature: str, args: str, message: str) -> None:
    with pytest.raises(UsageError) as info:
        encode_payload(signature, args)
    assert message in info.value.message and info.value.exit_code == 2


def test_raw_payload_and_result_decoding() -> None:
    assert parse_payload("0x0102") == b"\x01\x02"
    with pytest.raises(UsageError, match="0x-prefixed hex"):
        parse_payload("0102")
    with pytest.raises(UsageError, match="not valid hex"):
        parse_payload("0x0g")
    assert decode_result("(uint256)", encode(["uint256"], [25])) == [25]
    assert decode_result("(uint256,bytes)", encode(["uint256", "bytes"], [1, b"\xab"])) == [1, "0xab"]
    with pytest.raises(UsageError, match="does not decode as"):
        decode_result("(uint256)", b"\x01")


@pytest.mark.parametrize("signature, name", [("(foo)", "'foo'"), ("(uint256,bar)", "'bar'"),
                                             ("(uint256,(addres,bool))", "'addres'"), ("(foo[])", "'foo'")])
def test_an_unknown_type_is_named_as_not_an_abi_type(signature: str, name: str) -> None:
    """Issue #12: '(foo)' passed the grammar and failed later as 'values of type foo are not supported'."""
    with pytest.raises(UsageError, match=f"{name} is not an ABI type") as info:
        split_types(signature)
    assert "uint256" in (info.value.hint or "")
