"""A papermill engine that keeps the kernel's own start-up and shutdown chatter off the terminal.

The kernel process's stdout and stderr (not the notebook's outputs, which papermill captures
into the notebook) go to a log file in the evaluation's working folder instead of the
evaluator's terminal, where they would bury the progress lines.
"""

from __future__ import annotations

import os

from jupyter_client.manager import AsyncKernelManager
from papermill.clientwrap import PapermillNotebookClient
from papermill.engines import NBClientEngine, papermill_engines
from papermill.log import logger
from papermill.utils import merge_kwargs, remove_args

__all__ = ["EvalkitEngine", "ENGINE_NAME"]

ENGINE_NAME = "evalkit"


class IPCKernelManager(AsyncKernelManager):
    """A kernel manager talking to its kernel over Unix domain sockets.

    With TCP, the parent picks free ports and the kernel binds them later; two kernels started
    at the same moment by two worker processes can pick the same port, and one of them dies
    before it replies. Socket files named after the unique connection file cannot collide.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.transport = "ipc"


KERNEL_MANAGER = IPCKernelManager if os.name == "posix" else AsyncKernelManager


class EvalkitEngine(NBClientEngine):
    """papermill's nbclient engine, with the kernel process's output sent to ``kernel_log``."""

    @classmethod
    def execute_managed_notebook(
        cls,
        nb_man,
        kernel_name,
        log_output=False,
        stdout_file=None,
        stderr_file=None,
        start_timeout=60,
        execution_timeout=None,
        kernel_log=None,
        **kwargs,
    ):
        kwargs = remove_args(["input_path"], **kwargs)
        safe_kwargs = remove_args(["timeout", "startup_timeout"], **kwargs)
        final_kwargs = merge_kwargs(
            safe_kwargs,
            timeout=execution_timeout if execution_timeout else kwargs.get("timeout"),
            startup_timeout=start_timeout,
            kernel_name=kernel_name,
            log=logger,
            log_output=log_output,
            stdout_file=stdout_file,
            stderr_file=stderr_file,
        )
        final_kwargs.setdefault("kernel_manager_class", KERNEL_MANAGER)
        client = PapermillNotebookClient(nb_man, **final_kwargs)
        if kernel_log is None:
            return client.execute()
        return client.execute(stdout=kernel_log, stderr=kernel_log)


papermill_engines.register(ENGINE_NAME, EvalkitEngine)
