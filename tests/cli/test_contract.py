"""The command line's contract, input by input: a documented exit code and one line naming
the file and the problem, never a traceback. Runs ``main`` in-process (fast), so every
case here would show a traceback as a test error."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from signpose.cli.main import main
from tests.runs_builder import build_run, standard_clips


def _run(tmp: Path) -> Path:
    return build_run(tmp / "run", standard_clips())


def _file(tmp: Path) -> Path:
    (tmp / "some_file").write_text("x")
    return tmp / "some_file"


def _empty(tmp: Path) -> Path:
    (tmp / "empty").mkdir()
    return tmp / "empty"


def _frames(tmp: Path) -> Path:
    (tmp / "data" / "clip").mkdir(parents=True)
    (tmp / "data" / "clip" / "0001.png").write_bytes(b"not decoded in these cases")
    return tmp / "data"


# (name, argv from tmp_path, exit status, words the one-line message must hold)
CASES: list[tuple[str, Callable[[Path], list], int, tuple[str, ...]]] = [
    ("negative atol", lambda t: ["verify", _run(t), _run(t), "--atol", "-1"], 2, ("--atol must be a number >= 0, not -1",)),
    ("nan atol", lambda t: ["verify", _run(t), _run(t), "--atol", "nan"], 2, ("--atol must be a number >= 0",)),
    ("verify a missing path", lambda t: ["verify", t / "nope", t / "nope2"], 2, ("nope", "no such file or folder")),
    ("verify a folder of nothing", lambda t: ["verify", _run(t), _empty(t)], 2, ("not a signpose run folder", "no .pose files")),
    ("verify a text file as a pickle", lambda t: ["verify", _run(t), _file(t)], 2, ("some_file", "not a readable pickle")),
    ("missing dataset", lambda t: ["extract", t / "nope", "-o", t / "out"], 2, ("nope", "dataset folder not found")),
    ("zero workers", lambda t: ["extract", _frames(t), "-o", t / "out", "--workers", "0"], 2, ("--workers must be at least 1",)),
    ("confidence out of range", lambda t: ["extract", _frames(t), "-o", t / "out", "--min-detection-confidence", "2"], 2,
     ("min-detection-confidence must be between 0 and 1",)),
    ("unshipped model", lambda t: ["extract", _frames(t), "-o", t / "out", "--model-complexity", "2"], 2,
     ("--model-complexity 1 only",)),
    ("option the estimator lacks", lambda t: ["extract", _frames(t), "-o", t / "out", "--device", "cuda"], 2,
     ("--device", "--estimator torch", "litert")),
    ("mediapipe's image mode", lambda t: ["extract", _frames(t), "-o", t / "out", "--mode", "image"], 2,
     ("--mode image", "--estimator mediapipe")),
    ("zero frame limit", lambda t: ["extract", _frames(t), "-o", t / "out", "--max-frame-mb", "0"], 2,
     ("--max-frame-megapixels and --max-frame-mb must be positive",)),
    ("torch with video mode", lambda t: ["extract", _frames(t), "-o", t / "out", "--estimator", "torch", "--mode", "video"], 2,
     ("--mode video", "--estimator mediapipe")),
    ("zero stall timeout", lambda t: ["extract", _frames(t), "-o", t / "out", "--stall-timeout", "0"], 2,
     ("--stall-timeout must be a positive number",)),
    ("unknown layout", lambda t: ["extract", _frames(t), "-o", t / "out", "--layout", "nope"], 2, ("nope",)),
    ("export a folder that is no run", lambda t: ["export", t, t / "x.pkl"], 2, ("not a signpose run folder",)),
    ("export pickle onto a folder", lambda t: ["export", _run(t), t], 2, (str(Path("")),)),
    ("export npz onto a file", lambda t: ["export", _run(t), _file(t), "--format", "npz"], 2, ("this path is a file",)),
    ("export an unknown split", lambda t: ["export", _run(t), t / "x.pkl", "--splits", "nope"], 2, ("no split 'nope'",)),
    ("render an unknown clip", lambda t: ["render", _run(t), "nope", "-o", t / "x.png"], 2, ("no clip 'nope'",)),
    ("render to an unknown type", lambda t: ["render", _run(t), "dev/03June_2011_Friday_tagesschau-7649", "-o", t / "x.avi"], 2,
     ("unknown output type",)),
    ("report of no run", lambda t: ["report", t, "-o", t / "r.html"], 2, ("not a signpose run",)),
]


@pytest.mark.parametrize(("name", "argv", "code", "words"), CASES, ids=[case[0] for case in CASES])
def test_input_gives_its_exit_code_and_one_line(name, argv, code, words, tmp_path: Path, capsys) -> None:
    status = main([str(arg) for arg in argv(tmp_path)])
    err = capsys.readouterr().err
    assert status == code, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("signpose: error: "), err
    assert "Traceback" not in err
    for word in words:
        assert word in lines[0], err


def test_help_explains_the_tool_and_every_option(capsys) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--help"])
    assert exited.value.code == 0
    text = capsys.readouterr().out
    assert "sign-language dataset" in text and "examples:" in text and "exit status" in text
    assert "the only place that prints" not in text
    for command in ("extract", "export", "verify", "render", "report"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        help_text = capsys.readouterr().out
        options = [line.split()[0] for line in help_text.splitlines() if line.startswith("  -")]
        for line in help_text.split("options:")[1].split("\n  -")[1:]:
            assert len(line.split("  ", 1)) == 2 or "\n" in line, f"{command}: option without help: -{line.strip()}"
        assert options


def test_the_mediapipe_estimator_without_mediapipe_names_its_install(monkeypatch, tmp_path: Path, capsys) -> None:
    """As on Python 3.13+, where mediapipe 0.10.21 cannot be installed: one line, exit 2, the command."""
    monkeypatch.setitem(sys.modules, "mediapipe", None)
    status = main(["extract", str(_frames(tmp_path)), "-o", str(tmp_path / "out"), "--estimator", "mediapipe"])
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1 and "Traceback" not in err, err
    assert "pip install 'signpose[mediapipe]'" in err and "Python 3.10-3.12" in err, err
    assert not (tmp_path / "out").exists()  # refused before the output folder was made
