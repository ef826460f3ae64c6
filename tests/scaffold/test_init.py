"""`init_project`: every template file rendered, valid config and Python, names, overwrite rules."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

import pytest

from hourglass_cli import __version__
from hourglass_cli.config import load_config
from hourglass_cli.errors import UsageError
from hourglass_cli.executor.runtimes.docker_base import BASE_TAG, PERFORMER_VENV
from hourglass_cli.scaffold.init import TemplateError, create_project, init_project
from hourglass_cli.scaffold.names import class_prefix, package_name, validate_name
from hourglass_cli.scaffold.resources import available_templates, templates_dir
from tests.scaffold.conftest import NAME, PACKAGE, REPO

EXPECTED_FILES = sorted([
    ".dockerignore", ".gitignore", "Dockerfile", "README.md", "contracts/src/SquareAvsTaskHook.sol",
    "hourglass.toml", "pyproject.toml", f"{PACKAGE}/__init__.py", f"{PACKAGE}/__main__.py",
    f"{PACKAGE}/performer.py", "tests/test_performer.py", "workflows/price-oracle.toml",
])


def files_under(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def test_templates_are_found_in_the_checkout() -> None:
    assert templates_dir() == REPO / "templates"
    assert "python" in available_templates()
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    # the wheel carries the same folder where templates_dir() looks when installed
    assert pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]["force-include"]["templates"] == \
        "hourglass_cli/_data/templates"


def test_renders_every_template_file(tmp_path: Path) -> None:
    result = create_project(NAME, tmp_path / NAME)
    assert result.path == tmp_path / NAME
    assert result.files == EXPECTED_FILES == files_under(result.path)
    assert result.overwritten == []
    template = templates_dir() / "python"
    assert len(EXPECTED_FILES) == len([p for p in template.rglob("*") if p.is_file()])
    for rel in EXPECTED_FILES:
        text = (result.path / rel).read_text()
        assert "{{" not in text and "{%" not in text, rel
    mode = (result.path).stat().st_mode & 0o777
    assert mode & 0o755 == 0o755  # not the private mode of the staging folder
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging folder left


def test_rendered_config_is_valid(project: Path) -> None:
    config = load_config(project / "hourglass.toml")
    assert config.project.name == NAME
    assert config.performer.runtime == "process"
    assert config.performer.command == ["python", "-m", PACKAGE]
    raw = tomllib.loads((project / "hourglass.toml").read_text())
    assert raw["project"] == {"name": NAME, "version": "0.1.0"}
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    assert pyproject["project"]["name"] == NAME
    assert f"hourglass-cli>={__version__}" in pyproject["project"]["dependencies"]
    assert pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"] == [PACKAGE]


def test_rendered_python_compiles(project: Path) -> None:
    sources = sorted(project.rglob("*.py"))
    assert len(sources) == 4
    for path in sources:
        compile(path.read_text(), str(path), "exec")
    assert "class SquareAvsPerformer(Performer)" in (project / PACKAGE / "performer.py").read_text()
    assert f"from {PACKAGE}.performer import SquareAvsPerformer" in (project / PACKAGE / "__main__.py").read_text()


def test_dockerfile_matches_the_base_image_and_the_staged_inputs(project: Path) -> None:
    dockerfile = (project / "Dockerfile").read_text()
    steps = [line.split()[0] for line in dockerfile.splitlines() if line and not line[0].isspace()
             and not line.startswith(("#", "&&"))]
    assert steps == ["FROM", "CMD", "COPY", "RUN", "COPY"]
    assert f"FROM {BASE_TAG}\n" in dockerfile
    assert f'CMD ["python", "-m", "{PACKAGE}"]' in dockerfile
    assert f"python3 -m venv --without-pip {PERFORMER_VENV}" in dockerfile
    assert "COPY .hourglass/docker/ /opt/hourglass/" in dockerfile
    assert f"COPY {PACKAGE}/ /app/{PACKAGE}/" in dockerfile
    ignore = (project / ".dockerignore").read_text().splitlines()
    assert ignore[1:4] == ["*", "!.hourglass/docker/", f"!{PACKAGE}/"]
    assert ".hourglass/" in (project / ".gitignore").read_text().splitlines()


def test_hook_and_readme(project: Path) -> None:
    hook = (project / "contracts/src/SquareAvsTaskHook.sol").read_text()
    assert "contract SquareAvsTaskHook is IAVSTaskHook" in hook
    assert 'import {IAVSTaskHook} from "@hourglass/interfaces/IAVSTaskHook.sol";' in hook
    readme = (project / "README.md").read_text()
    for command in ("hourglass devnet start", 'hourglass task submit --signature "(uint256)" --args "(5)" '
                    '--result-abi "(uint256)"', "hourglass devnet stop"):
        assert command in readme


def test_refuses_a_non_empty_folder_without_force(tmp_path: Path) -> None:
    dest = tmp_path / "taken"
    dest.mkdir()
    (dest / "notes.txt").write_text("mine")
    with pytest.raises(UsageError, match="already exists and is not empty") as err:
        init_project(NAME, dest)
    assert "--force" in (err.value.hint or "")
    assert files_under(dest) == ["notes.txt"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_an_empty_folder_is_fine(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    assert files_under(init_project(NAME, tmp_path / "empty")) == EXPECTED_FILES


def test_force_overwrites_template_files_and_keeps_the_others(project: Path) -> None:
    (project / "hourglass.toml").write_text("[project]\nname = 'edited'\n")
    (project / PACKAGE / "extra.py").write_text("X = 1\n")
    (project / "notes.txt").write_text("mine")
    result = create_project(NAME, project, force=True)
    assert "hourglass.toml" in result.overwritten and len(result.overwritten) == len(EXPECTED_FILES)
    assert load_config(project / "hourglass.toml").project.name == NAME
    assert (project / PACKAGE / "extra.py").read_text() == "X = 1\n"
    assert (project / "notes.txt").read_text() == "mine"
    assert files_under(project) == sorted([*EXPECTED_FILES, f"{PACKAGE}/extra.py", "notes.txt"])


def test_force_never_replaces_a_folder_with_a_file(project: Path) -> None:
    (project / "README.md").unlink()
    (project / "README.md").mkdir()
    (project / "README.md" / "keep").write_text("x")
    with pytest.raises(UsageError, match="is a folder, but the template puts a file there"):
        init_project(NAME, project, force=True)
    assert (project / "README.md" / "keep").read_text() == "x"


def test_a_file_where_the_project_goes(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(UsageError, match="exists and is not a folder"):
        init_project(NAME, tmp_path / "file", force=True)


@pytest.mark.parametrize("name, message", [
    ("My-AVS", "invalid project name 'My-AVS'"),
    ("my_avs", "invalid project name 'my_avs'"),
    ("1avs", "invalid project name"),
    ("", "invalid project name"),
    ("a" * 64, "invalid project name"),
    ("json", "would shadow Python's standard module 'json'"),
    ("tests", "would clash with the project's own folders"),
    ("hourglass-cli", "would clash"),
    ("web3", "would shadow the installed module 'web3'"),
    ("class", "is a Python keyword"),
])
def test_bad_names_are_rejected_clearly(tmp_path: Path, name: str, message: str) -> None:
    with pytest.raises(UsageError, match=message.replace("(", r"\(")) as err:
        init_project(name, tmp_path / "p")
    assert err.value.hint
    assert not (tmp_path / "p").exists()


def test_names_follow_the_config_rule() -> None:
    assert validate_name("a").package == "a"
    assert validate_name("my-avs-2").class_prefix == "MyAvs2"
    assert package_name("a-b-c") == "a_b_c" and class_prefix("a-b-c") == "ABC"
    with pytest.raises(UsageError) as err:
        validate_name("My_AVS")
    assert err.value.hint == "try 'my-avs'"
    from hourglass_cli.config import _NAME_RE
    from hourglass_cli.scaffold.names import NAME_PATTERN

    assert NAME_PATTERN is _NAME_RE  # one rule, declared in config.py


def test_unknown_template_lists_the_available_ones(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"unknown template 'rust'; available templates: python"):
        init_project(NAME, tmp_path / "p", template="rust")
    assert not (tmp_path / "p").exists()


def test_a_broken_template_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "templates"
    (root / "broken" / "{{package}}").mkdir(parents=True)
    (root / "broken" / "{{package}}" / "ok.py.j2").write_text("NAME = '{{ name }}'\n")
    (root / "broken" / "bad.txt.j2").write_text("{{ no_such_variable }}\n")
    monkeypatch.setenv("HOURGLASS_TEMPLATES_DIR", str(root))
    with pytest.raises(TemplateError, match="no_such_variable"):
        init_project(NAME, tmp_path / "out", template="broken")
    assert sorted(os.listdir(tmp_path)) == ["templates"]


def test_an_installed_package_uses_the_templates_in_its_data(tmp_path: Path) -> None:
    """The wheel's layout: hourglass_cli/ with templates/ mapped to hourglass_cli/_data/templates, no checkout."""
    import shutil
    import subprocess
    import sys

    site = tmp_path / "site"
    shutil.copytree(REPO / "hourglass_cli", site / "hourglass_cli", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO / "templates", site / "hourglass_cli" / "_data" / "templates")
    code = ("import sys; from hourglass_cli.scaffold.resources import templates_dir; "
            "from hourglass_cli.scaffold.init import init_project; print(templates_dir()); "
            "print(init_project('wheel-avs', sys.argv[1]))")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "HOURGLASS_TEMPLATES_DIR")}
    done = subprocess.run([sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {str(site)!r}); {code}",
                           str(tmp_path / "wheel-avs")], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [str(site / "hourglass_cli" / "_data" / "templates"),
                                        str(tmp_path / "wheel-avs")]
    assert load_config(tmp_path / "wheel-avs" / "hourglass.toml").project.name == "wheel-avs"
