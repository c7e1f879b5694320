"""Quality measures (mst_jax.evaluate) against hand-computed values and independent references."""

import math

import numpy as np
import pytest
import scipy.linalg

from mst_jax import evaluate, music, quality_report

SR = 22050


def _sines(pitches, duration_s, sr=SR):
    """Pure sines (no harmonics) at MIDI pitches, so the chroma is the pitch-class set."""
    t = np.arange(int(duration_s * sr)) / sr
    w = sum(np.sin(2 * np.pi * 440.0 * 2 ** ((p - 69) / 12) * t) for p in pitches)
    return (0.5 * w / np.abs(w).max()).astype(np.float32)


def _progression(chords, seconds_each, sr=SR):
    return np.concatenate([_sines(c, seconds_each, sr) for c in chords])


def _indicator(pitch_classes):
    v = np.zeros(12)
    v[list(pitch_classes)] = 1.0
    return v


def test_pearson_matches_numpy():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=50), rng.normal(size=50)
    assert evaluate.pearson(a, b) == pytest.approx(np.corrcoef(a, b)[0, 1], abs=1e-12)
    assert math.isnan(evaluate.pearson(np.ones(5), a[:5]))  # constant vector: undefined


def test_frame_correlation_is_the_mean_of_per_frame_correlations():
    rng = np.random.default_rng(1)
    a, b = rng.random((40, 12)), rng.random((45, 12))
    b[3] = 0.0  # a silent frame is skipped, not counted as 0
    expected = np.mean([np.corrcoef(a[i], b[i])[0, 1] for i in range(40) if i != 3])
    assert evaluate.frame_correlation(a, b) == pytest.approx(expected, abs=1e-12)


def test_frechet_distance_matches_scipy_sqrtm():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(500, 4)) @ rng.normal(size=(4, 4))
    y = rng.normal(size=(400, 4)) @ rng.normal(size=(4, 4)) + 1.5
    sx, sy = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    mu = x.mean(0) - y.mean(0)
    reference = mu @ mu + np.trace(sx + sy - 2 * scipy.linalg.sqrtm(sx @ sy).real)
    assert evaluate.frechet_distance(x, y) == pytest.approx(reference, rel=1e-6)
    assert evaluate.frechet_distance(x, x) == pytest.approx(0.0, abs=1e-9)


def test_mfcc_distances_are_frechet_of_librosa_mfcc_frames_without_c0():
    """``mfcc_to_style``: the Fréchet distance (scipy ``sqrtm``) between Gaussian fits of the
    two peak-normalised clips' 20 librosa MFCCs per frame, c0 (loudness) dropped."""
    import librosa

    def frames(w):
        y = w / np.abs(w).max()
        return librosa.feature.mfcc(y=y, sr=SR, n_mfcc=20, hop_length=evaluate.HOP_LENGTH)[1:].T

    def frechet(x, y):
        sx, sy = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
        mu = x.mean(0) - y.mean(0)
        return mu @ mu + np.trace(sx + sy - 2 * scipy.linalg.sqrtm(sx @ sy).real)

    result = _progression([(60, 64, 67), (62, 65, 69)], 1.0)
    style = np.random.default_rng(4).normal(size=2 * SR).astype(np.float32) * _sines((57,), 2.0)
    q = evaluate.evaluate(result, content=None, style=style, sr=SR)
    assert q.mfcc_to_style == pytest.approx(frechet(frames(result), frames(style)), rel=1e-4)


def test_several_styles_pool_frames_and_average_flatness_and_grams():
    """A list of style clips is one style: MFCC frames concatenated, flatness, gram and level
    range averaged (numpy on each clip's own features)."""
    result = _sines((60, 64, 67), 1.0)
    a = _sines((57, 61, 64), 1.0)
    b = np.random.default_rng(6).uniform(-0.5, 0.5, SR).astype(np.float32)
    q = evaluate.evaluate(result, content=None, style=[a, b], sr=SR)
    fr, fa, fb = (evaluate.features(w, sr=SR) for w in (result, a, b))
    assert q.flatness_style == pytest.approx((fa.flatness + fb.flatness) / 2)
    assert q.level_range_style == pytest.approx((fa.level_range + fb.level_range) / 2)
    frames = np.concatenate([fa.mfcc, fb.mfcc])
    assert q.mfcc_to_style == pytest.approx(evaluate.frechet_distance(fr.mfcc, frames))
    gram = (np.asarray(fa.gram) + np.asarray(fb.gram)) / 2
    expected = np.linalg.norm(np.asarray(fr.gram) - gram) / np.linalg.norm(gram)
    assert q.gram_to_style == pytest.approx(expected, rel=1e-6)


def test_chord_against_itself_a_transposition_and_noise():
    c_major, d_major = (60, 64, 67), (62, 66, 69)
    chord = _sines(c_major, 2.0)
    q_same = evaluate.evaluate(chord, content=chord, style=chord, sr=SR)
    assert q_same.chroma_content == pytest.approx(1.0, abs=1e-9)
    assert q_same.pcp_content == pytest.approx(1.0, abs=1e-9)
    assert q_same.mfcc_to_content == pytest.approx(0.0, abs=1e-6)
    assert q_same.gram_to_style == pytest.approx(0.0, abs=1e-6)

    # A whole tone up: the pitch-class profiles are disjoint 3-note sets, whose Pearson
    # correlation is -1/3 by hand; chroma_cqt leaks a little energy into neighbouring
    # classes, hence the 0.15 tolerance.
    hand = np.corrcoef(_indicator([0, 4, 7]), _indicator([2, 6, 9]))[0, 1]
    assert hand == pytest.approx(-1.0 / 3.0)
    q_up = evaluate.evaluate(_sines(d_major, 2.0), content=chord, style=chord, sr=SR)
    assert q_up.pcp_content == pytest.approx(hand, abs=0.15)
    assert q_up.chroma_content < 0.0

    noise = np.random.default_rng(3).normal(size=2 * SR).astype(np.float32)
    q_noise = evaluate.evaluate(noise, content=chord, style=chord, sr=SR)
    assert abs(q_noise.chroma_content) < 0.2  # unrelated: near 0
    assert q_noise.flatness > 0.3 > 0.05 > q_same.flatness  # white noise vs a chord
    assert q_noise.gram_to_content > 0.5


def test_floors_read_the_content_against_itself_shifted():
    # Four different chords, 1 s each: shifted by half, chord 1 meets chord 3 and so on.
    chords = [(60, 64, 67), (65, 69, 72), (67, 71, 74), (57, 60, 64)]
    content = _progression(chords, 1.0)
    q = evaluate.evaluate(content, content=content, style=None, sr=SR)
    f = evaluate.features(content, sr=SR)
    half = len(f.chroma) // 2
    expected = evaluate.frame_correlation(f.chroma, np.roll(f.chroma, half, axis=0))
    assert q.chroma_floor == pytest.approx(expected)
    assert q.chroma_floor < 0.6 < q.chroma_content
    assert math.isnan(q.mfcc_ratio) and math.isnan(q.pcp_style)  # no style given


def test_onset_correlation_keeps_rhythm_and_loses_it_off_beat():
    clicks = music.click_track(bpm=120.0, duration_s=4.0, sr=SR)
    off = music.click_track(bpm=120.0, duration_s=4.0, sr=SR, offset_s=0.25)
    q_same = evaluate.evaluate(clicks, content=clicks, style=None, sr=SR)
    q_off = evaluate.evaluate(off, content=clicks, style=None, sr=SR)
    assert q_same.onset_content == pytest.approx(1.0)
    assert q_off.onset_content < 0.3


def test_onset_correlation_is_pearson_of_librosa_onset_envelopes():
    """``onset_content``: Pearson correlation (numpy) of the two peak-normalised clips'
    ``librosa.onset.onset_strength`` envelopes over the shorter's frames; ``onset_floor``: the
    content's envelope against itself rolled by half. Two tempi and two lengths, so the value
    is neither 0 nor 1 and the trimming matters."""
    import librosa

    content = music.click_track(bpm=120.0, duration_s=4.0, sr=SR)
    result = 0.3 * music.click_track(bpm=100.0, duration_s=3.0, sr=SR)
    env = [
        librosa.onset.onset_strength(y=w / np.abs(w).max(), sr=SR, hop_length=evaluate.HOP_LENGTH)
        for w in (result, content)
    ]
    n = min(map(len, env))
    expected = np.corrcoef(env[0][:n], env[1][:n])[0, 1]
    floor = np.corrcoef(env[1], np.roll(env[1], len(env[1]) // 2))[0, 1]
    q = evaluate.evaluate(result, content=content, style=None, sr=SR)
    assert 0.05 < abs(expected) < 0.95  # a value the test can tell from 0 and 1
    assert q.onset_content == pytest.approx(expected, abs=1e-6)
    assert q.onset_floor == pytest.approx(floor, abs=1e-6)


def test_flatness_is_the_mean_over_frames_of_geometric_over_arithmetic_power():
    """Spectral flatness by hand: per frame exp(mean log P) / mean P of the power spectrum
    (floored at 1e-10, librosa's amin), then the mean over frames. A chord then noise, so the
    mean over frames is far from the median."""
    import librosa

    chord = _sines((60, 64, 67), 1.5)
    noise = np.random.default_rng(5).uniform(-0.5, 0.5, SR // 2).astype(np.float32)
    y = np.concatenate([chord, noise])
    y = y / np.abs(y).max()
    magnitude = np.abs(librosa.stft(y, n_fft=2048, hop_length=evaluate.HOP_LENGTH))
    power = np.maximum(magnitude**2, 1e-10)
    per_frame = np.exp(np.mean(np.log(power), axis=0)) / np.mean(power, axis=0)
    q = evaluate.evaluate(y, content=None, style=None, sr=SR)
    assert np.mean(per_frame) > 2 * np.median(per_frame)
    assert q.flatness == pytest.approx(float(np.mean(per_frame)), rel=1e-4)


def test_flatness_skips_silent_frames_but_keeps_quiet_ones():
    """A recording's silent lead-in is not noise: frames whose RMS (numpy, over librosa's
    centred 2048-sample frames) is more than 60 dB below the loudest frame's are left out of
    the mean, so a dithered silence before a chord (about 85 dB down) is not counted; a noise
    40 dB down still is (it can be heard). Digital silence has no sounding frame at all."""
    import librosa

    chord = _sines((60, 64, 67), 2.0)
    hiss = 0.01 * np.random.default_rng(6).uniform(-0.5, 0.5, SR // 2).astype(np.float32)
    dither = 3e-5 * np.random.default_rng(7).uniform(-1, 1, 2 * SR).astype(np.float32)  # 16-bit
    y = np.concatenate([dither, chord, hiss])
    y = y / np.abs(y).max()
    magnitude = np.abs(librosa.stft(y, n_fft=2048, hop_length=evaluate.HOP_LENGTH))
    power = np.maximum(magnitude**2, 1e-10)
    per_frame = np.exp(np.mean(np.log(power), axis=0)) / np.mean(power, axis=0)
    padded = np.pad(y.astype(np.float64), 1024)
    starts = np.arange(per_frame.size) * evaluate.HOP_LENGTH
    rms = np.array([np.sqrt(np.mean(padded[i : i + 2048] ** 2)) for i in starts])
    sounding = rms > rms.max() * 1e-3
    hiss_frames = starts > 4 * SR + 2048
    assert 0.25 < sounding.mean() < 0.75 and np.all(sounding[hiss_frames])  # both kinds present
    assert np.mean(per_frame[hiss_frames]) > 0.3  # the hiss is flat: it weighs in the mean
    q = evaluate.evaluate(y, content=None, style=None, sr=SR)
    assert q.flatness == pytest.approx(float(np.mean(per_frame[sounding])), rel=1e-4)
    assert np.mean(per_frame) > 2.5 * q.flatness  # with the silence counted: 0.30 against 0.10
    assert evaluate.flatness(np.zeros(SR, np.float32)) == pytest.approx(1.0)  # nothing sounds


def test_level_range_is_the_percentile_spread_of_the_half_second_level_by_numpy():
    """``level_range``: frame power by hand (centred frames, zero padding), averaged over 23
    frames with scipy (edges repeated), in dB over the sounding frames (RMS within 60 dB of the
    loudest; dither 85 dB down left out), 95th minus 5th percentile. A chord whose last 2 s are
    24 dB down spans about 24 dB; the same chord level about 0; a record row reads the result's
    against the content's."""
    from scipy.ndimage import uniform_filter1d

    chord = _sines((60, 64, 67), 4.0)
    rng = np.random.default_rng(9)
    subito = np.concatenate([
        3e-5 * rng.uniform(-1, 1, SR // 2), chord[: 2 * SR], chord[2 * SR :] * 10 ** (-24 / 20),
    ]).astype(np.float32)
    y = subito / np.abs(subito).max()
    padded = np.pad(y.astype(np.float64), 1024)
    n = 1 + y.size // 512
    power = np.array([np.mean(padded[i * 512 : i * 512 + 2048] ** 2) for i in range(n)])
    sounding = np.sqrt(power) > np.sqrt(power.max()) * 1e-3
    level = 10 * np.log10(uniform_filter1d(power, 23, mode="nearest")[sounding])
    expected = np.percentile(level, 95) - np.percentile(level, 5)
    # float32 frame power in librosa against float64 here: 0.01 dB.
    assert evaluate.level_range(subito, sr=SR) == pytest.approx(expected, abs=0.01)
    assert expected == pytest.approx(24.0, abs=1.0)  # the step, its smoothing at the edges
    assert evaluate.level_range(_sines((60, 64, 67), 10.0), sr=SR) < 0.5  # level: about 0
    assert math.isnan(evaluate.level_range(np.zeros(SR, np.float32), sr=SR))
    q = evaluate.evaluate(chord, content=subito, style=chord, sr=SR)
    row = {r["name"]: r for r in quality_report.record(q)["measures"]}["level_range"]
    assert row["value"] < 1.0 and row["floor"] == pytest.approx(expected, abs=0.01)
    assert row["floor_label"] == "the content's range"
    # The verdict names the range where the content has dynamics (24 dB here), not otherwise.
    assert quality_report.verdict(q).endswith(
        f", level range {q.level_range:.0f} dB (the content's {expected:.0f} dB)")
    level = evaluate.evaluate(subito, content=chord, style=chord, sr=SR)
    assert level.level_range_content < quality_report.DYNAMICS_SHOWN
    assert "level range" not in quality_report.verdict(level)


def test_mfcc_ratio_prefers_the_clip_it_resembles():
    content = _sines((60, 64, 67), 2.0)
    style = music.drum_pattern(bpm=120.0, duration_s=2.0, sr=SR)
    q = evaluate.evaluate(style, content=content, style=style, sr=SR)
    assert q.mfcc_ratio == pytest.approx(0.0, abs=1e-9)
    assert q.mfcc_floor == pytest.approx(q.mfcc_to_content)


def test_record_rows_and_verdict_match_the_values():
    chord = _sines((60, 64, 67), 1.5)
    noise = np.random.default_rng(4).normal(size=int(1.5 * SR)).astype(np.float32)
    q = evaluate.evaluate(0.5 * chord + 0.05 * noise, content=chord, style=noise, sr=SR)
    rec = quality_report.record(q)
    rows = {r["name"]: r for r in rec["measures"]}
    assert rows["chroma_content"]["value"] == pytest.approx(q.chroma_content)
    assert rows["chroma_content"]["floor"] == pytest.approx(q.chroma_floor)
    assert rows["mfcc_ratio"]["floor"] is None
    assert rows["gram_to_style"]["floor"] == pytest.approx(q.gram_floor)  # a transfer: content vs style
    assert rows["flatness"]["floor_label"] == "the content's flatness"
    assert all(r["read"] for r in rec["measures"])
    assert f"content kept {q.chroma_content:.2f} of 1" in rec["verdict"]
    # a texture has no content: its content measures are NaN, the record's values None (JSON null)
    texture = quality_report.record(evaluate.evaluate(noise, style=noise, sr=SR))["values"]
    assert texture["chroma_content"] is None and texture["mfcc_ratio"] is None
    assert texture["flatness"] == pytest.approx(evaluate.evaluate(noise, sr=SR).flatness)
    assert f"style distance ratio {q.mfcc_ratio:.2f}" in rec["verdict"]
    assert f"flatness {q.flatness:.3f}" in rec["verdict"]


def test_gram_self_is_the_halves_against_the_whole_by_numpy():
    """``gram_self``: each half's gram of the held-out net (drawn here from the public key and
    sizes) against the whole clip's, relative Frobenius distance, mean of the two; small for
    a steady clip, large where the halves differ."""
    import jax

    from mst_jax import networks, spectral
    from mst_jax.config import StftNetConfig

    cfg = StftNetConfig(filters=evaluate.GRAM_FILTERS, kernel=evaluate.GRAM_KERNEL)
    net = networks.make(cfg, n_fft=2048)
    params = net.init(jax.random.key(evaluate.GRAM_KEY))

    def by_numpy(wave):
        y = wave / np.max(np.abs(wave))
        hop = evaluate.HOP_LENGTH
        mag = spectral.stft_magnitude(y.astype(np.float32), n_fft=2048, hop_length=hop)
        maps = np.asarray(net.apply(params, spectral.log_spectrogram(mag))[-1], np.float64)
        gram = lambda m: m.T @ m / len(m)  # noqa: E731
        whole, h = gram(maps), len(maps) // 2
        halves = (maps[:h], maps[h:])
        return np.mean([np.linalg.norm(gram(m) - whole) / np.linalg.norm(whole) for m in halves])

    steady = music.drum_pattern(bpm=120.0, duration_s=2.0, sr=SR)
    noise = 0.3 * np.random.default_rng(6).normal(size=SR)
    parts = np.concatenate([_sines((60, 64, 67), 1.0), noise])
    found = {}
    for name, wave in (("steady", steady), ("parts", parts.astype(np.float32))):
        found[name] = evaluate.features(wave, sr=SR).gram_self
        assert found[name] == pytest.approx(by_numpy(wave), rel=1e-4), name
    assert found["steady"] < 0.3 and found["parts"] > 0.6, found  # measured 0.17 and 0.93


def test_texture_verdict_reads_against_the_styles_own_halves():
    """A texture has a style and no content: its line gives the gram distance beside what the
    style's own halves score, and flatness, with no "nan" where a content floor would be (the
    texture demo once printed one)."""
    style = music.drum_pattern(bpm=120.0, duration_s=1.5, sr=SR)
    noise = np.random.default_rng(5).normal(size=style.shape).astype(np.float32)
    q = evaluate.evaluate(0.1 * noise, content=None, style=style, sr=SR)
    line = quality_report.verdict(q)
    assert "nan" not in line, line
    assert q.gram_self < q.gram_to_style
    expected = (
        f"gram distance to the style {q.gram_to_style:.2f} (the style's own halves {q.gram_self:.2f})"
    )
    assert expected in line, line
    assert line.endswith(f"flatness {q.flatness:.3f} (inputs {q.flatness_style:.3f})"), line
    rows = {r["name"]: r for r in quality_report.record(q)["measures"]}
    assert "chroma_content" not in rows and "mfcc_ratio" not in rows
    # The rows fall back to the style's references where a transfer has the content's.
    assert rows["gram_to_style"]["floor"] == pytest.approx(q.gram_self)
    assert rows["gram_to_style"]["floor_label"] == "the style's own halves vs the whole"
    assert rows["flatness"]["floor"] == pytest.approx(q.flatness_style)
    assert rows["flatness"]["floor_label"] == "the style's flatness"


def test_verdict_names_whose_key_the_result_is_in():
    c_major, fsharp_major = _sines((60, 64, 67), 1.5), _sines((66, 70, 73), 1.5)
    for result, whose in ((c_major, "the content's"), (fsharp_major, "the style's")):
        q = evaluate.evaluate(result, content=c_major, style=fsharp_major, sr=SR)
        assert q.pcp_floor < quality_report.KEYS_DIFFER
        assert f"key {whose} (pitch-class profile {q.pcp_content:.2f} with the content" in quality_report.verdict(q)
    same_key = evaluate.evaluate(c_major, content=c_major, style=_sines((48, 55, 64), 1.5), sr=SR)
    assert same_key.pcp_floor >= quality_report.KEYS_DIFFER and "key " not in quality_report.verdict(same_key)


def test_gram_distances_are_relative_to_the_second_grams_norm_by_numpy():
    """gram_to_style = ||G_r - G_s|| / ||G_s||, gram_to_content = ||G_r - G_c|| / ||G_c||, and
    the floor, content against style, = ||G_c - G_s|| / ||G_s|| (Frobenius norms by numpy)."""
    rng = np.random.default_rng(7)

    def feats(scale):
        g = rng.normal(size=(6, 6))
        return evaluate.Features(rng.random((20, 12)), rng.random(20), rng.normal(size=(40, 3)),
                                 0.01, scale * (g @ g.T), 0.2, 3.0)

    r, c, s = feats(1.0), feats(3.0), feats(0.5)  # norms far apart: the denominator matters
    q = evaluate.compare(r, c, s)
    norm = np.linalg.norm
    assert q.gram_to_style == pytest.approx(norm(r.gram - s.gram) / norm(s.gram), rel=1e-12)
    assert q.gram_to_content == pytest.approx(norm(r.gram - c.gram) / norm(c.gram), rel=1e-12)
    assert q.gram_floor == pytest.approx(norm(c.gram - s.gram) / norm(s.gram), rel=1e-12)


def test_a_result_with_the_contents_timbre_statistics_has_an_infinite_ratio():
    """MFCC distance to the content 0 (identical frames) and to the style positive: the ratio
    is infinite (as near the content as can be), not NaN."""
    frames = np.zeros((30, 19))
    r = evaluate.Features(np.ones((30, 12)), np.ones(30), frames, 0.0, np.eye(2), 0.0, 0.0)
    s = r._replace(mfcc=frames + 1.0)
    q = evaluate.compare(r, r, s)
    assert q.mfcc_to_content == 0.0 and q.mfcc_to_style == pytest.approx(19.0)
    assert q.mfcc_ratio == math.inf
    # Frames with a full covariance: the eigendecompositions' rounding leaves 1.4e-10 of a set
    # against itself (seed 4), which read as a ratio of about 1e11; it is 0, the ratio infinite,
    # and the verdict says what that means. A real difference 1e-6 of the scale is kept.
    frames = np.random.default_rng(4).normal(size=(300, 19)) * np.linspace(1, 50, 19) + 3
    assert evaluate.frechet_distance(frames, frames) == 0.0
    assert evaluate.frechet_distance(frames, frames * (1 + 1e-3)) > 0.0
    r = r._replace(mfcc=frames)
    q = evaluate.compare(r, r, r._replace(mfcc=frames + 1.0))
    assert q.mfcc_ratio == math.inf
    assert "style distance ratio inf (the result's timbre statistics are the content's)" in quality_report.verdict(q)


def test_the_held_out_net_hears_other_rates_resampled_to_its_own():
    """The held-out gram net is defined at 22.05 kHz: a chord given at 44.1 kHz has (nearly)
    the gram of the same chord at 22.05 kHz (not the gram of an octave-down spectrum)."""
    chord = (60, 64, 67)
    g22 = evaluate.features(_sines(chord, 1.5), sr=SR).gram
    g44 = evaluate.features(_sines(chord, 1.5, sr=44100), sr=44100).gram
    assert np.linalg.norm(g44 - g22) / np.linalg.norm(g22) < 0.01  # measured 0.0005
