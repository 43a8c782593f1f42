"""Notebook kernels run over IPC in a private folder: no "running over TCP without encryption" warning on stderr,
and no zmq context left for the garbage collector (one left open once hung a test running notebooks in-process)."""

from __future__ import annotations

import gc
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat
import pytest

pytestmark = pytest.mark.notebook

WARNING = "running over TCP without encryption"


def _notebook(folder: Path) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("x = 6 * 7\nprint(x)")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = folder / "tiny.ipynb"
    nbformat.write(nb, str(path))
    return path


def _run_in_child(code: str, folder: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=folder, timeout=300)


def test_no_tcp_warning_on_stderr_and_the_plain_tcp_kernel_does_warn(tmp_path):
    src = _notebook(tmp_path)
    ours = _run_in_child(
        "from iamkit.kernels import execute_notebook\n"
        f"execute_notebook({str(src)!r}, {str(tmp_path / 'o1.ipynb')!r}, {{}}, cwd={str(tmp_path)!r})",
        tmp_path,
    )
    assert ours.returncode == 0, ours.stderr
    assert WARNING not in ours.stderr, ours.stderr
    out = nbformat.read(str(tmp_path / "o1.ipynb"), as_version=4)
    assert out.cells[0].outputs[0]["text"].strip() == "42"
    # the check can fail: papermill's default kernel (TCP) prints the warning
    plain = _run_in_child(
        "import papermill as pm\n"
        f"pm.execute_notebook({str(src)!r}, {str(tmp_path / 'o2.ipynb')!r}, kernel_name='python3', "
        "progress_bar=False)",
        tmp_path,
    )
    assert plain.returncode == 0, plain.stderr
    assert WARNING in plain.stderr


def test_in_process_runs_leave_no_zmq_context_and_no_socket_folder(tmp_path, monkeypatch):

    from iamkit import kernels
    from iamkit.kernels import execute_notebook

    made: list[str] = []
    real_init = kernels.IpcKernelManager.__init__

    def init(self, **kw):
        real_init(self, **kw)
        made.append(self._ipc_dir)

    monkeypatch.setattr(kernels.IpcKernelManager, "__init__", init)
    src = _notebook(tmp_path)
    for i in range(2):
        execute_notebook(src, tmp_path / f"o{i}.ipynb", {}, cwd=tmp_path)
    gc.collect()
    assert _open_contexts() == []
    assert len(made) == 2 and not [d for d in made if Path(d).exists()]
    assert all(Path(d).parent == Path(tempfile.gettempdir()) for d in made)


def _open_contexts() -> list:
    """zmq contexts still open; objects gc lists may be dead weak proxies (isinstance on them raises)."""
    import zmq

    out = []
    for c in gc.get_objects():
        try:
            if isinstance(c, zmq.Context) and not c.closed:
                out.append(c)
        except ReferenceError:
            continue
    return out
