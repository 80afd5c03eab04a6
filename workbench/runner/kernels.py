"""The kernel manager papermill uses for the workbench's notebook runs: kernels that die with their run.

jupyter_client starts each kernel in a session of its own, so killing the run's
process group does not reach it, and ipykernel's parent poller only notices a
dead parent about a second later, and never when the parent died while the
kernel was still starting (it then waits for PID 1 to adopt it, which a
subreaper such as ``systemd --user`` prevents). The kernel command is wrapped by
:mod:`workbench.runner.lifeline`, so the kernel gets SIGKILL the moment the
process that started it (the run, or its pool worker) dies.

It also tells nbclient that the workbench's own kernel spec is an ipykernel
(jupyter_client only recognises the names ``python``/``python3``), so batch runs
keep IPython's history in memory instead of writing ``~/.ipython``'s history
database from every kernel at once.
"""

from __future__ import annotations

import os
from typing import Any

from jupyter_client.manager import AsyncKernelManager

from workbench.runner.lifeline import guarded_command


class LifelineKernelManager(AsyncKernelManager):
    """An ``AsyncKernelManager`` whose kernels die with the process that launched them."""

    async def _async_launch_kernel(self, kernel_cmd: list[str], **kw: Any) -> None:
        await super()._async_launch_kernel(guarded_command(kernel_cmd, os.getpid()), **kw)

    @property
    def ipykernel(self) -> bool:
        """True for any kernel spec that runs ipykernel, whatever its name."""
        if super().ipykernel:
            return True
        spec = self.kernel_spec
        return bool(spec) and any("ipykernel" in arg for arg in spec.argv)
