"""Notebook kernels for papermill runs: IPC sockets in a private folder, every zmq context closed at the end.

A kernel on TCP listens on loopback ports anyone on the machine can reach, and ipykernel warns about it on
stderr ("running over TCP without encryption") once per notebook. Over IPC the sockets are files in a folder
only this user can open, and the warning has no cause. When the run ends the kernel is shut down and the
manager's zmq context destroyed with ``linger=0``: a context left to the garbage collector can block in
``Context.term()`` on a socket still open (a test running notebooks in its own process then hangs).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from jupyter_client.manager import AsyncKernelManager


class IpcKernelManager(AsyncKernelManager):
    """A kernel manager whose kernel talks over IPC sockets in a private temporary folder (mode 0700)."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self._ipc_dir = tempfile.mkdtemp(prefix="iamkit-kernel-")
        os.chmod(self._ipc_dir, 0o700)
        self.transport = "ipc"
        self.ip = str(Path(self._ipc_dir) / "k")

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        await super()._async_cleanup_resources(restart=restart)
        if not restart:
            if not self.context.closed:
                self.context.destroy(linger=0)
            shutil.rmtree(self._ipc_dir, ignore_errors=True)


def execute_notebook(
    src: Path | str,
    out: Path | str,
    parameters: dict[str, Any],
    *,
    cwd: Path | str,
    timeout: int | None = None,
    kernel_name: str = "python3",
) -> Any:
    """papermill's ``execute_notebook`` on an ``IpcKernelManager`` kernel (no progress bar, outputs not logged)."""
    import papermill as pm

    return pm.execute_notebook(
        str(src),
        str(out),
        parameters=parameters,
        kernel_name=kernel_name,
        progress_bar=False,
        cwd=str(cwd),
        log_output=False,
        execution_timeout=timeout,
        kernel_manager_class=IpcKernelManager,
    )
