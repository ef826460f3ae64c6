"""DevKit-style payloads: `--signature "(uint256,string)" --args "(5,\"hi\")"` → ABI-encoded bytes.

The args tuple is parsed by a small recursive-descent reader (numbers in decimal or hex, quoted or bare
strings, true/false, addresses, hex bytes, nested `[…]` arrays and `(…)` tuples), then each value is
checked against its ABI type so a mistake is reported as "argument 2 (address): expected …".
"""

from __future__ import annotations

import re
from typing import Any

from hourglass_cli.errors import UsageError

_HINT = 'e.g. --signature "(uint256,string)" --args "(5,\\"hi\\")"'
_INT_TYPE = re.compile(r"^(u?)int(\d*)$")
_BYTES_N = re.compile(r"^bytes(\d+)$")


def split_types(signature: str) -> list[str]:
    """The ABI types of a signature "(t1,t2,…)" (a bare "t1,t2" is accepted too)."""
    from eth_abi.grammar import parse

    text = signature.strip()
    if not text.startswith("("):
        text = f"({text})"
    try:
        parsed = parse(text)
    except Exception as exc:  # noqa: BLE001 - eth_abi's ParseError/ABITypeError carry the detail
        raise UsageError(f"invalid --signature {signature!r}: {exc}", hint=_HINT) from None
    if not getattr(parsed, "components", None) or parsed.is_array:
        raise UsageError(f"invalid --signature {signature!r}: expected a tuple of types like (uint256,string)",
                         hint=_HINT)
    try:
        parsed.validate()
    except Exception as exc:  # noqa: BLE001
        raise UsageError(f"invalid --signature {signature!r}: {exc}", hint=_HINT) from None
    types = [c.to_type_str() for c in parsed.components]
    unknown = _unknown_types(parsed)
    if unknown:
        names = ", ".join(repr(u) for u in unknown)
        verb = "is not an ABI type" if len(unknown) == 1 else "are not ABI types"
        raise UsageError(f"invalid --signature {signature!r}: {names} {verb}",
                         hint="ABI types are e.g. uint256, int8, address, bool, bytes32, bytes, string, arrays like "
                              "uint256[] and tuples like (uint256,address)")
    return types


def _unknown_types(parsed: Any) -> list[str]:
    """The basic type names in a parsed signature that eth-abi cannot encode (e.g. 'foo', 'uint' typos)."""
    from eth_abi import is_encodable_type

    out: list[str] = []
    for component in getattr(parsed, "components", None) or ():
        if getattr(component, "components", None):
            out += _unknown_types(component)
        elif not is_encodable_type(component.to_type_str()):
            out.append(getattr(component, "base", None) or component.to_type_str())
    return out


class _Reader:
    """Reads a literal `( … )` into nested lists/tuples of raw tokens (strings are ('str', value))."""

    def __init__(self, text: str) -> None:
        self.text, self.pos = text, 0

    def fail(self, what: str) -> UsageError:
        near = self.text[self.pos:self.pos + 12] or "the end"
        return UsageError(f"invalid --args {self.text!r}: {what} at position {self.pos} (near {near!r})",
                          hint=_HINT)

    def skip(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def value(self) -> Any:
        self.skip()
        if self.pos >= len(self.text):
            raise self.fail("expected a value")
        ch = self.text[self.pos]
        if ch in "([":
            return self.group(ch)
        if ch in "\"'":
            return self.quoted(ch)
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] not in ",)]":
            self.pos += 1
        token = self.text[start:self.pos].strip()
        if not token:
            raise self.fail("expected a value")
        return token

    def quoted(self, quote: str) -> tuple[str, str]:
        self.pos += 1
        out: list[str] = []
        while self.pos < len(self.text):
            ch = self.text[self.pos]
            self.pos += 1
            if ch == "\\" and self.pos < len(self.text):
                nxt = self.text[self.pos]
                out.append({"n": "\n", "t": "\t"}.get(nxt, nxt))
                self.pos += 1
            elif ch == quote:
                return ("str", "".join(out))
            else:
                out.append(ch)
        raise self.fail(f"unterminated string (missing {quote})")

    def group(self, opener: str) -> Any:
        closer = ")" if opener == "(" else "]"
        self.pos += 1
        items: list[Any] = []
        self.skip()
        if self.pos < len(self.text) and self.text[self.pos] == closer:
            self.pos += 1
            return tuple(items) if opener == "(" else items
        while True:
            items.append(self.value())
            self.skip()
            if self.pos >= len(self.text):
                raise self.fail(f"missing {closer!r}")
            ch = self.text[self.pos]
            self.pos += 1
            if ch == closer:
                return tuple(items) if opener == "(" else items
            if ch != ",":
                self.pos -= 1
                raise self.fail(f"expected ',' or {closer!r}")


def parse_args(text: str) -> tuple[Any, ...]:
    """The args literal "(v1, v2, …)" as a tuple of raw values (a bare "v1, v2" is accepted too)."""
    body = text.strip()
    if not body.startswith("("):
        body = f"({body})"
    reader = _Reader(body)
    value = reader.value()
    reader.skip()
    if reader.pos != len(body):
        raise reader.fail("unexpected text after the closing ')'")
    return value if isinstance(value, tuple) else (value,)


def _raw(value: Any) -> str:
    return value[1] if isinstance(value, tuple) and len(value) == 2 and value[0] == "str" else value


def _hexbytes(token: str, what: str) -> bytes:
    if not token.startswith(("0x", "0X")):
        raise ValueError(f"expected 0x-prefixed hex for {what}, got {token!r}")
    try:
        return bytes.fromhex(token[2:] if len(token) % 2 == 0 else "0" + token[2:])
    except ValueError:
        raise ValueError(f"expected hex digits for {what}, got {token!r}") from None


def coerce(abi_type: str, value: Any) -> Any:
    """`value` (from parse_args) as eth_abi wants it for `abi_type`; ValueError says what was expected."""
    from eth_abi.grammar import parse

    parsed = parse(abi_type)
    if parsed.is_array:
        if not isinstance(value, list):
            raise ValueError(f"expected an array [..] for {abi_type}, got {_raw(value)!r}")
        inner = parsed.item_type.to_type_str()
        size = parsed.arrlist[-1]
        if size and len(value) != size[0]:
            raise ValueError(f"expected {size[0]} items for {abi_type}, got {len(value)}")
        return [coerce(inner, v) for v in value]
    if getattr(parsed, "components", None):
        if not isinstance(value, tuple) or (len(value) == 2 and value[0] == "str"):
            raise ValueError(f"expected a tuple (..) for {abi_type}, got {_raw(value)!r}")
        if len(value) != len(parsed.components):
            raise ValueError(f"expected {len(parsed.components)} values for {abi_type}, got {len(value)}")
        return tuple(coerce(c.to_type_str(), v) for c, v in zip(parsed.components, value))
    if isinstance(value, list) or (isinstance(value, tuple) and value[:1] != ("str",)):
        raise ValueError(f"expected a single {abi_type} value, got a list or tuple")
    quoted = isinstance(value, tuple)
    token = _raw(value)
    if abi_type == "string":
        return token
    if abi_type == "bool":
        if token.lower() in ("true", "1"):
            return True
        if token.lower() in ("false", "0"):
            return False
        raise ValueError(f"expected true or false, got {token!r}")
    if abi_type == "address":
        from eth_utils import is_address, to_checksum_address

        if not is_address(token):
            raise ValueError(f"expected a 20-byte 0x address, got {token!r}")
        return to_checksum_address(token.lower())
    if abi_type == "bytes":
        return token.encode() if quoted and not token.startswith("0x") else _hexbytes(token, abi_type)
    match = _BYTES_N.match(abi_type)
    if match:
        data = _hexbytes(token, abi_type)
        if len(data) > int(match.group(1)):
            raise ValueError(f"expected at most {match.group(1)} bytes for {abi_type}, got {len(data)}")
        return data.ljust(int(match.group(1)), b"\0")
    match = _INT_TYPE.match(abi_type)
    if match:
        try:
            number = int(token.replace("_", ""), 0)
        except ValueError:
            raise ValueError(f"expected an integer (decimal or 0x hex) for {abi_type}, got {token!r}") from None
        bits = int(match.group(2) or 256)
        low, high = (0, 2**bits - 1) if match.group(1) else (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
        if not low <= number <= high:
            raise ValueError(f"{number} is out of range for {abi_type} ({low}..{high})")
        return number
    raise ValueError(f"values of type {abi_type} are not supported by --args")


def encode_payload(signature: str, args: str) -> bytes:
    """ABI-encode `args` as the types of `signature`."""
    from eth_abi import encode

    types = split_types(signature)
    values = parse_args(args)
    if len(values) != len(types):
        raise UsageError(f"--signature {signature!r} has {len(types)} type(s) but --args gives {len(values)} "
                         "value(s)", hint=_HINT)
    out = []
    for i, (abi_type, value) in enumerate(zip(types, values), 1):
        try:
            out.append(coerce(abi_type, value))
        except ValueError as exc:
            raise UsageError(f"argument {i} ({abi_type}): {exc}", hint=_HINT) from None
    return encode(types, out)


def parse_payload(text: str) -> bytes:
    """A raw 0x-hex payload."""
    if not text.startswith(("0x", "0X")):
        raise UsageError(f"PAYLOAD must be 0x-prefixed hex, got {text[:20]!r}",
                         hint="or give --signature and --args to ABI-encode it")
    try:
        return bytes.fromhex(text[2:])
    except ValueError:
        raise UsageError("PAYLOAD is not valid hex (an even number of hex digits after 0x)") from None


def read_payload_file(name: str) -> bytes:
    """The bytes of FILE, or of standard input for '-'."""
    import sys
    from pathlib import Path

    try:
        data = sys.stdin.buffer.read() if name == "-" else Path(name).read_bytes()
    except FileNotFoundError:
        raise UsageError(f"--payload-file {name}: no such file") from None
    except IsADirectoryError:
        raise UsageError(f"--payload-file {name}: is a folder, not a file") from None
    except OSError as exc:
        raise UsageError(f"--payload-file {name}: cannot read it ({exc.strerror})") from None
    if not data:
        raise UsageError(f"--payload-file {name}: is empty", hint="TaskMailbox refuses an empty payload")
    return data


def payload_from_options(payload: str | None, signature: str | None, args: str | None,
                         payload_file: str | None) -> bytes:
    """The payload `task submit` sends: exactly one of PAYLOAD, --signature/--args, --payload-file."""
    if (signature is None) != (args is None):
        raise UsageError("--signature and --args go together", hint='e.g. --signature "(uint256)" --args "(5)"')
    given = [what for what, value in (("PAYLOAD", payload), ("--signature/--args", signature),
                                      ("--payload-file", payload_file)) if value is not None]
    if len(given) > 1:
        raise UsageError(f"give one of PAYLOAD, --signature/--args or --payload-file, not {' and '.join(given)}")
    if not given:
        raise UsageError("nothing to send", hint='give a 0x… PAYLOAD, --signature "(uint256)" --args "(5)", or '
                                                 "--payload-file FILE")
    if payload_file is not None:
        return read_payload_file(payload_file)
    if signature is not None:
        return encode_payload(signature, args or "")
    return parse_payload(payload or "")


def decode_result(result_abi: str, data: bytes) -> Any:
    """`data` decoded as the types of `result_abi` (a tuple); UsageError if it does not fit."""
    from eth_abi import decode

    types = split_types(result_abi)
    try:
        values = decode(types, data)
    except Exception as exc:  # noqa: BLE001 - eth_abi's DecodingError and friends
        raise UsageError(f"the result does not decode as {result_abi}: {exc}",
                         hint="check --result-abi / [task].result_abi in hourglass.toml") from None
    return _plain(values)


def _plain(value: Any) -> Any:
    """JSON-friendly values: bytes as 0x hex, tuples as lists."""
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
