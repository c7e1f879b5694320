"""Tests leave no process-wide state behind for the next test (run in file order).

The first test does what every script's ``main`` does when the CLI tests call it in-process;
the second, which pytest runs right after it, must find the ``mst_jax`` logger as it was, so that
``caplog`` sees the library's notices (``tests/test_audio.py``'s stereo test failed when run after
``tests/test_batch.py`` before ``conftest._mst_jax_logger_restored``).
"""

import logging

from experiments import console
from mst_jax import audio


def test_a_script_run_routes_the_library_logger_to_stderr():
    console.install_notice_handler()
    assert logging.getLogger("mst_jax").propagate is False


def test_the_next_test_sees_the_library_notices(caplog):
    logger = logging.getLogger("mst_jax")
    assert logger.propagate is True
    with caplog.at_level(logging.WARNING, logger="mst_jax"):
        audio.logger.warning("a notice")
    assert [r.getMessage() for r in caplog.records] == ["a notice"]
