"""The README's "compose your own loss" example runs as written."""

import pathlib
import re

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"


def _python_blocks():
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_example_runs(tmp_path, monkeypatch):
    blocks = _python_blocks()
    assert len(blocks) == 1
    monkeypatch.chdir(tmp_path)
    exec(compile(blocks[0], str(README), "exec"), {})
    assert (tmp_path / "mine.wav").stat().st_size > 44


def test_readme_test_command_is_the_ci_command():
    ci = (README.parent / ".ci" / "run").read_text()
    command = re.search(r"```bash\n(python3 -m pip install -e '\.\[test\]') && (python3 -m pytest -q)\n```",
                        README.read_text())
    assert command is not None
    assert "python3 -m pip install -e '.[test]' && python3 -m pytest -q" in ci


def test_readme_says_what_the_suite_marks_slow():
    """The README once said paper-size runs were marked ``slow`` while no test was: whatever it
    says about ``slow`` tests must match the test files."""
    here = pathlib.Path(__file__).name
    tests = [f for f in README.parent.joinpath("tests").glob("test_*.py") if f.name != here]
    marked = [f.name for f in tests if re.search(r"pytest\.mark\.slow\b", f.read_text())]
    claims = re.search(r"marked\s+`slow`", README.read_text()) is not None
    assert claims == bool(marked), f"README claims slow tests: {claims}; marked in: {marked}"
