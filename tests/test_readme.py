"""Every ```python block of README.md runs as written (from a directory that looks like the
repository root: ``models/`` is there, outputs land in a temporary directory)."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
from conftest import ROOT

README = ROOT / "README.md"


def python_blocks(text: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```$", text, flags=re.S | re.M)


def test_readme_has_python_blocks():
    assert python_blocks(README.read_text(encoding="utf-8"))


@pytest.mark.parametrize("index", range(len(python_blocks(README.read_text(encoding="utf-8")))))
def test_readme_python_block_runs(index, tmp_path):
    code = python_blocks(README.read_text(encoding="utf-8"))[index]
    (tmp_path / "models").symlink_to(ROOT / "models", target_is_directory=True)
    script = tmp_path / f"readme_block_{index}.py"
    script.write_text(code, encoding="utf-8")
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    r = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True,
                       text=True, timeout=600, env=env)
    assert r.returncode == 0, f"README block {index} failed:\n{code}\n--- stderr ---\n{r.stderr}"


def test_block_extraction_sees_failures(tmp_path):
    """The extraction is not vacuous: a failing block is found and fails."""
    blocks = python_blocks("text\n```python\nraise SystemExit(3)\n```\n```bash\nls\n```\n")
    assert blocks == ["raise SystemExit(3)\n"]
    r = subprocess.run([sys.executable, "-c", blocks[0]], cwd=tmp_path)
    assert r.returncode == 3
