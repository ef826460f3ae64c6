"""Freshness, caching and `contracts build [--check]`, on scratch copies of contracts/."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hourglass_cli.compiler import build as builder
from hourglass_cli.compiler.settings import SOLC_VERSION, compiler_settings
from hourglass_cli.errors import CompilerError
from tests.cli.test_cli_basics import run_cli


def _append_comment(base: Path, rel: str) -> None:
    path = base / "src" / rel
    path.write_text(path.read_text() + "\n// touched by a test\n")


def test_committed_artifacts_are_fresh() -> None:
    """What CI's `hourglass contracts build --check` asserts for the checkout."""
    freshness = builder.check_fresh()
    assert freshness.fresh, freshness.reasons


def test_unchanged_copy_is_fresh(contracts_copy: Path) -> None:
    assert builder.check_fresh(contracts_copy).fresh
    result = run_cli("contracts", "build", "--check", "--contracts-dir", str(contracts_copy))
    assert result.returncode == 0, result.stderr
    assert "up to date" in result.stdout


def test_modified_source_is_stale_and_named(contracts_copy: Path) -> None:
    _append_comment(contracts_copy, "core/TaskMailbox.sol")
    freshness = builder.check_fresh(contracts_copy)
    assert not freshness.fresh
    assert "src/core/TaskMailbox.sol modified" in freshness.reasons
    assert "TaskMailbox" in freshness.stale_artifacts

    result = run_cli("contracts", "build", "--check", "--contracts-dir", str(contracts_copy))
    assert result.returncode == 1
    assert "stale artifacts" in result.stderr and "TaskMailbox" in result.stderr
    assert "hourglass contracts build" in result.stderr and "Traceback" not in result.stderr


def test_added_and_removed_sources_are_stale(contracts_copy: Path) -> None:
    (contracts_copy / "src" / "Extra.sol").write_text("// SPDX-License-Identifier: MIT\npragma solidity ^0.8.27;\n")
    (contracts_copy / "src" / "avs" / "FeeAVSTaskHook.sol").unlink()
    reasons = builder.check_fresh(contracts_copy).reasons
    assert "src/Extra.sol added" in reasons
    assert "src/avs/FeeAVSTaskHook.sol removed" in reasons


def test_hand_edited_or_missing_artifact_is_stale(contracts_copy: Path) -> None:
    (contracts_copy / "out" / "AVSTaskHook.json").write_text("{}")
    (contracts_copy / "out" / "KeyRegistrar.json").unlink()
    freshness = builder.check_fresh(contracts_copy)
    assert freshness.stale_artifacts == ["AVSTaskHook", "KeyRegistrar"]
    assert "out/AVSTaskHook.json was edited by hand" in freshness.reasons
    assert "out/KeyRegistrar.json is missing" in freshness.reasons


def test_settings_or_version_change_is_stale(contracts_copy: Path) -> None:
    manifest_path = contracts_copy / "out" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["compiler"]["version"] = "0.8.0"
    manifest["settings"]["optimizer"]["runs"] = 1
    manifest_path.write_text(json.dumps(manifest))
    reasons = builder.check_fresh(contracts_copy).reasons
    assert f"built with solc 0.8.0, pinned {SOLC_VERSION}" in reasons
    assert "compiler settings changed" in reasons


def test_missing_manifest_is_stale(contracts_copy: Path) -> None:
    (contracts_copy / "out" / "manifest.json").unlink()
    freshness = builder.check_fresh(contracts_copy)
    assert not freshness.fresh and freshness.stale_artifacts == ["(all)"]


def test_manifest_records_version_settings_and_every_source() -> None:
    manifest = builder.read_manifest(builder.contracts_dir())
    assert manifest is not None
    assert manifest["compiler"]["version"] == SOLC_VERSION
    assert manifest["compiler"]["longVersion"].startswith(SOLC_VERSION + "+commit.")
    assert manifest["settings"] == compiler_settings()
    assert set(manifest["sources"]) == set(builder.source_hashes(builder.contracts_dir()))
    for name in ("TaskMailbox", "KeyRegistrar", "BN254CertificateVerifier", "ECDSACertificateVerifier"):
        assert name in manifest["artifacts"]


def test_fresh_build_skips_the_compiler(contracts_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_compiler(*args: object, **kwargs: object) -> None:
        raise AssertionError("a fresh tree must not look for a compiler")

    monkeypatch.setattr("hourglass_cli.compiler.discovery.find_solc", no_compiler)
    result = builder.build(contracts_copy)
    assert not result.compiled
    assert "TaskMailbox" in result.artifacts


@pytest.mark.slow
def test_rebuild_after_comment_change_gives_same_bytecode(contracts_copy: Path, solc: object) -> None:
    before = (contracts_copy / "out" / "TaskMailbox.json").read_text()
    _append_comment(contracts_copy, "core/TaskMailbox.sol")
    result = builder.build(contracts_copy, solc=solc)
    assert result.compiled and result.seconds > 0
    assert builder.check_fresh(contracts_copy).fresh
    # No metadata hash in the bytecode: a comment changes the source hash, not the artifact.
    assert (contracts_copy / "out" / "TaskMailbox.json").read_text() == before
    assert not list((contracts_copy / "out").glob(".*.tmp"))


@pytest.mark.slow
def test_compile_error_lists_solc_messages(contracts_copy: Path, solc: object) -> None:
    broken = contracts_copy / "src" / "avs" / "AVSTaskHook.sol"
    broken.write_text(broken.read_text().replace("return 0;", "return missingVariable;"))
    with pytest.raises(CompilerError) as info:
        builder.build(contracts_copy, solc=solc)
    assert "missingVariable" in info.value.message
    assert "AVSTaskHook.sol" in info.value.message
    # The failed build left the old artifacts and manifest alone.
    assert builder.read_manifest(contracts_copy) is not None
