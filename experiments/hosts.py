"""A batch on several hosts: the ``--distributed`` flags, and every process stopping together.

:func:`initialize` calls ``jax.distributed.initialize`` from the flags before anything touches a
device. :func:`on_every_process` runs the checks that come before the first collective (the CSV,
the inputs, the memory): where one process fails them, the others would wait for it in that
collective until JAX's coordination service gave up and aborted them, minutes later and with a
stack trace; instead every process stops at once, each with one ``error:`` line.
"""

from __future__ import annotations

from typing import Callable, TypeVar

import jax
from absl import flags

from experiments.console import EXIT_BAD_INPUT, RunError
from mst_jax import audio, devices

DISTRIBUTED = flags.DEFINE_bool(
    "distributed",
    False,
    "With --batch: call jax.distributed.initialize() first, so that the batch is split over the "
    "devices of every process (run the same command on every host; process 0 writes the outputs). "
    "On Slurm, Open MPI and Cloud TPU the processes find each other; elsewhere give "
    "--coordinator_address, --num_processes and --process_id.",
)
COORDINATOR_ADDRESS = flags.DEFINE_string(
    "coordinator_address", None, "With --distributed: host:port of process 0 (default: detected)."
)
NUM_PROCESSES = flags.DEFINE_integer(
    "num_processes", None, "With --distributed: number of processes (default: detected)."
)
PROCESS_ID = flags.DEFINE_integer(
    "process_id", None, "With --distributed: this process's id, 0 ... N-1 (default: detected)."
)
FLAGS = (DISTRIBUTED, COORDINATOR_ADDRESS, NUM_PROCESSES, PROCESS_ID)

T = TypeVar("T")


def initialize():
    """``jax.distributed.initialize`` from the flags; nothing without ``--distributed``.

    Raises:
      ValueError: a flag of this module given without ``--distributed``, or out of range.
    """
    given = [h for h in (COORDINATOR_ADDRESS, NUM_PROCESSES, PROCESS_ID) if h.value is not None]
    if not DISTRIBUTED.value:
        if given:
            raise ValueError(f"--{given[0].name}: only used with --distributed")
        return
    if NUM_PROCESSES.value is not None and NUM_PROCESSES.value < 1:
        raise ValueError(f"--num_processes={NUM_PROCESSES.value}: must be >= 1")
    if PROCESS_ID.value is not None and not (
        0 <= PROCESS_ID.value < (NUM_PROCESSES.value or PROCESS_ID.value + 1)
    ):
        raise ValueError(f"--process_id={PROCESS_ID.value}: must be in [0, --num_processes)")
    # CPU processes exchange arrays through gloo (GPUs use NCCL whatever this says).
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(
        coordinator_address=COORDINATOR_ADDRESS.value,
        num_processes=NUM_PROCESSES.value,
        process_id=PROCESS_ID.value,
    )


def on_every_process(checks: Callable[[], T]) -> T:
    """``checks()``, agreed over the processes: if it raises on any, it stops every one.

    The process that failed raises its own error; the others raise a :class:`RunError` (bad
    input) that points to it. Without ``--distributed`` this is ``checks()`` (nothing touches a
    device before it, as before several hosts existed). Every process must call it at the same
    point (it ends in a collective).
    """
    if not DISTRIBUTED.value:
        return checks()
    try:
        result, failure = checks(), None
    except (RunError, audio.AudioError, ValueError) as error:
        result, failure = None, error
    if not devices.any_process(failure is not None):
        return result
    if failure is not None:
        raise failure
    raise RunError(
        "another process stopped on its flags or inputs before the run (its error line says why); "
        "nothing was run",
        EXIT_BAD_INPUT,
    )
