"""Ray is an optional extra: gilfree imports without it, `--ray` without it says what to install,
and the Ray flags' bad values are refused before any cluster starts. Runs with or without Ray
(tests/on_ray runs the rest where it is installed)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from gilfree.cli import main

# Runs a gilfree command line in a fresh interpreter where `import ray` fails, installed or not.
_WITHOUT_RAY = (
    "import sys; sys.modules['ray'] = None\n"
    "from gilfree.cli import main\n"
    "sys.exit(main(sys.argv[1:]))\n"
)


def _cli_without_ray(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _WITHOUT_RAY, *argv],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_gilfree_imports_without_importing_ray() -> None:
    code = (
        "import sys, gilfree, gilfree.server, gilfree.cli, gilfree.fastapi, gilfree.ray;"
        " gilfree.cli._parser(); print(sorted(m for m in sys.modules if m.split('.')[0] == 'ray'))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"


def test_serve_ray_without_the_extra_says_what_to_install() -> None:
    result = _cli_without_ray("serve", "--ray", "--replicas", "2")
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "gilfree serve: gilfree's Ray support needs Ray: pip install 'gilfree[ray]'"
    ]


def test_ray_functions_without_the_extra_say_what_to_install() -> None:
    code = (
        "import sys; sys.modules['ray'] = None\n"
        "import gilfree.ray\n"
        "try:\n"
        "    gilfree.ray.process_dataset(None, column='x')\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "gilfree's Ray support needs Ray: pip install 'gilfree[ray]'"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--threads", "2"], "--threads does not apply with --ray"),
        (["--workers", "2"], "--workers does not apply with --ray"),
    ],
)
def test_serve_ray_refuses_flags_of_plain_serve(argv: list[str], message: str) -> None:
    # Refused before Ray is needed: the same answer with or without the extra.
    result = _cli_without_ray("serve", "--ray", *argv)
    assert result.returncode == 2
    assert result.stderr.startswith(f"gilfree serve: {message}")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--replicas", "2"], "--replicas needs --ray"),
        (["--address", "auto", "--replica-cpus", "2"], "--replica-cpus and --address need --ray"),
    ],
)
def test_ray_flags_without_ray_are_refused(argv: list[str], message: str) -> None:
    result = _cli_without_ray("serve", *argv)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [f"gilfree serve: {message}"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--replicas", "0"], "expected a positive integer"),
        (["--replicas", "2", "--autoscale", "1:3"], "not allowed with argument"),
        (["--autoscale", "3:1"], "expected MIN:MAX replicas"),
        (["--autoscale", "0:0"], "expected MIN:MAX replicas"),
        (["--autoscale", "2"], "expected MIN:MAX replicas"),
        (["--autoscale", "a:b"], "expected MIN:MAX replicas"),
        (["--replica-cpus", "0"], "expected a positive number of CPUs"),
        (["--replica-cpus", "nan"], "expected a positive number of CPUs"),
        (["--replica-cpus", "-1"], "expected a positive number of CPUs"),
        (["--connect-timeout", "inf"], "expected a positive number of seconds"),
    ],
)
def test_serve_ray_rejects_bad_values(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["serve", "--ray", *argv])
    assert caught.value.code == 2
    assert message in capsys.readouterr().err


def test_serve_help_lists_the_ray_flags(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["serve", "--help"])
    out = capsys.readouterr().out
    for flag in ("--ray", "--replicas", "--autoscale MIN:MAX", "--replica-cpus C", "--address"):
        assert flag in out
