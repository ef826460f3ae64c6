"""`hourglass avs init` and `hourglass avs build` as a user runs them (subprocesses, real performer, real solc)."""

from __future__ import annotations

from pathlib import Path

from tests.scaffold.conftest import NAME, PACKAGE, run_cli


def test_init_then_build(tmp_path: Path) -> None:
    created = run_cli("avs", "init", NAME, cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    project = tmp_path / NAME
    assert (project / "hourglass.toml").is_file() and (project / PACKAGE / "performer.py").is_file()
    assert f"created {NAME} in {project} (template python)" in created.stdout
    assert f"+ {PACKAGE}/performer.py" in created.stdout
    assert "cd square-avs" in created.stdout and "hourglass devnet start" in created.stdout

    built = run_cli("avs", "build", cwd=project / PACKAGE)  # the project is found above the cwd
    assert built.returncode == 0, built.stdout + built.stderr
    lines = built.stdout.splitlines()
    assert lines[0].startswith(f"✓ import    {PACKAGE} imports")
    assert lines[1].startswith(f"✓ serve     python -m {PACKAGE} reported SERVING on 127.0.0.1:")
    assert lines[2].startswith("✓ contracts compiled SquareAvsTaskHook with ")
    assert lines[3] == "– image     runtime process: no image to build"
    assert f"built {NAME} ({project})" in built.stdout
    assert (project / "contracts" / "out" / "SquareAvsTaskHook.json").is_file()


def test_init_into_dir_and_force(tmp_path: Path) -> None:
    dest = tmp_path / "elsewhere"
    assert run_cli("avs", "init", NAME, "--dir", str(dest), cwd=tmp_path).returncode == 0
    (dest / "notes.txt").write_text("mine")

    again = run_cli("avs", "init", NAME, "--dir", str(dest), cwd=tmp_path)
    assert again.returncode == 2
    assert "error:" in again.stderr and "already exists and is not empty" in again.stderr
    assert "--force" in again.stderr and "Traceback" not in again.stderr

    forced = run_cli("avs", "init", NAME, "--dir", str(dest), "--force", cwd=tmp_path)
    assert forced.returncode == 0, forced.stderr
    assert "overwrote hourglass.toml" in forced.stdout
    assert (dest / "notes.txt").read_text() == "mine"


def test_bad_name_and_unknown_template(tmp_path: Path) -> None:
    bad = run_cli("avs", "init", "My_AVS", cwd=tmp_path)
    assert bad.returncode == 2
    assert "invalid project name 'My_AVS'" in bad.stderr and "try 'my-avs'" in bad.stderr
    unknown = run_cli("avs", "init", NAME, "--template", "go", cwd=tmp_path)
    assert unknown.returncode == 2
    assert "unknown template 'go'; available templates: python" in unknown.stderr
    assert list(tmp_path.iterdir()) == []


def test_build_failure_is_one_error_naming_the_module(tmp_path: Path) -> None:
    assert run_cli("avs", "init", NAME, cwd=tmp_path).returncode == 0
    project = tmp_path / NAME
    performer = project / PACKAGE / "performer.py"
    performer.write_text(performer.read_text() + "raise ValueError('bad config')\n")
    failed = run_cli("avs", "build", "--project", str(project), cwd=tmp_path)
    assert failed.returncode == 1
    assert f"error: importing the performer module {PACKAGE} failed at {PACKAGE}/performer.py:" in failed.stderr
    assert "ValueError: bad config" in failed.stderr
    assert not (project / "contracts" / "out").exists()  # stopped at the first failure


def test_help() -> None:
    out = run_cli("avs", "--help", cwd=Path.cwd())
    assert out.returncode == 0
    assert "init" in out.stdout and "build" in out.stdout
