"""The ideal-transfer benchmark's comparison: a result against the content played by the style's
instruments."""

import numpy as np
import pytest

from benchmarks import ideal_transfer
from mst_jax import signals

SR = ideal_transfer.SR


def test_against_ideal_is_zero_at_the_ideal_and_one_at_the_content():
    content = signals.chord([60, 64, 67], duration_s=2.0, sr=SR)
    noise = np.random.default_rng(0).standard_normal(content.size).astype(np.float32)
    ideal = (0.7 * content + 0.05 * noise).astype(np.float32)  # same notes, other "timbre"
    at_ideal = ideal_transfer.against_ideal(ideal, ideal, content)
    assert at_ideal["mfcc_to_ideal"] == pytest.approx(0.0, abs=1e-6)
    assert at_ideal["ideal_ratio"] == pytest.approx(0.0, abs=1e-6)
    assert at_ideal["chroma_ideal"] == pytest.approx(1.0)
    at_content = ideal_transfer.against_ideal(content, ideal, content)
    assert at_content["mfcc_to_ideal"] == pytest.approx(at_content["content_to_ideal"]) and at_content["mfcc_to_ideal"] > 0
    assert at_content["ideal_ratio"] == pytest.approx(1.0)
