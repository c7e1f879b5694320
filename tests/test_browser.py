"""The listening page of a real short run, opened in headless Chromium (issue 15).

Chromium runs with the network closed (no sandbox, no GPU, no background services). A probe
script, injected into a test-only copy of the page beside it (same folder, so the same relative
paths), records every script error, console.error and failed load, each ``<audio>``'s duration
and each ``<img>``'s decoded width into an attribute of ``<html>``; ``--dump-dom`` reads it
back. Chromium's own console log (``--enable-logging=stderr``) must be empty too. The real page
is also screenshotted at desktop and phone width. Skipped when no Chromium is installed
(``.ci/run`` installs Debian's ``chromium``).
"""

import html
import json
import os
import re
import shutil
import struct
import subprocess
import urllib.parse

import numpy as np
import pytest
import soundfile as sf
from absl import flags
from absl.testing import flagsaver
from conftest import SR, TINY_NET_FLAGS

from experiments import transfer
from mst_jax import music, page

flags.FLAGS.mark_as_parsed()

CHROMIUM = next((p for p in map(shutil.which, ("chromium", "chromium-browser")) if p), None)
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="no Chromium on PATH (chromium / chromium-browser): install Debian's chromium "
    "(.ci/run does) to open the listening page in a browser",
)

# Waits (in Chromium's virtual time) until every <audio> has its metadata or an error, then
# writes what a listener would meet into <html data-probe>; optionally clicks sort buttons first.
PROBE = """<script>
(function () {
  var errors = [];
  window.addEventListener("error", function (e) {
    var t = e.target;
    errors.push(e.message || ("failed to load " + (t && (t.currentSrc || t.src || t.tagName))));
  }, true);
  window.addEventListener("unhandledrejection", function (e) { errors.push(String(e.reason)); });
  var consoleError = console.error;
  console.error = function () {
    errors.push(Array.prototype.join.call(arguments, " "));
    consoleError.apply(console, arguments);
  };
  function firstColumn() {
    var t = document.querySelector("table.sortable");
    return t ? Array.prototype.map.call(t.tBodies[0].rows, function (r) {
      return r.cells[0].textContent.trim(); }) : [];
  }
  function clipped(el) {  // inside a box that scrolls or hides its overflow
    for (var p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      if (getComputedStyle(p).overflowX !== "visible") { return true; }
    }
    return false;
  }
  function extent() {  // right edge of the farthest content not clipped by a scrolling region
    var left = document.body.getBoundingClientRect().left, right = 0;
    Array.prototype.forEach.call(document.body.querySelectorAll("*"), function (el) {
      if (!clipped(el) && el.tagName !== "SCRIPT") {
        var box = el.getBoundingClientRect(), own = box.right;
        if (getComputedStyle(el).overflowX === "visible") {  // text overflowing the box too
          own = Math.max(own, box.left + el.scrollWidth);
        }
        right = Math.max(right, own - left);
      }
    });
    return right;
  }
  function report(tries) {
    var audios = Array.prototype.slice.call(document.querySelectorAll("audio"));
    var pending = audios.some(function (a) { return a.readyState < 1 && !a.error; });
    if (pending && tries < 400) { setTimeout(function () { report(tries + 1); }, 50); return; }
    var sorts = [];
    (window.PROBE_SORT || []).forEach(function (label) {
      document.querySelector('button[aria-label="' + label + '"]').click();
      sorts.push(firstColumn());
    });
    document.documentElement.setAttribute("data-probe", JSON.stringify({
      errors: errors,
      audio: audios.map(function (a) {
        return { src: a.currentSrc, duration: a.duration, start: a.currentTime,
                 error: a.error && a.error.code }; }),
      images: Array.prototype.map.call(document.images, function (i) {
        return { src: i.currentSrc, complete: i.complete, width: i.naturalWidth }; }),
      width: document.body.getBoundingClientRect().width,
      extent: extent(),
      sorts: sorts
    }));
  }
  window.addEventListener("load", function () {
    if (window.PROBE_WIDTH) {  // headless windows are at least 500 px wide: narrow the page itself
      document.body.style.width = window.PROBE_WIDTH + "px";
    }
    report(0);
  });
})();
</script>"""


def _chromium(*args, profile, timeout=120):
    cmd = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        "--enable-logging=stderr",
        "--v=0",
        f"--user-data-dir={profile}",
        *args,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def _console_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]


def probe(html_path, tmp_path, *, width=None, sort=()):
    """Opens a probe copy of ``html_path`` (same folder); returns what the page reported.

    ``width``: lay the page out this many CSS pixels wide (a phone), else a 1280 px window.
    """
    with open(html_path, encoding="utf-8") as f:
        text = f.read()
    setup = (
        f"<script>window.PROBE_SORT = {json.dumps(list(sort))}; "
        f"window.PROBE_WIDTH = {json.dumps(width)};</script>"
    )
    copy = os.path.splitext(html_path)[0] + ".probe.html"
    with open(copy, "w", encoding="utf-8") as f:
        f.write(text.replace("<head>", "<head>" + setup + PROBE, 1))
    done = _chromium(
        "--window-size=1280,1000",
        "--virtual-time-budget=30000",
        "--dump-dom",
        "file://" + urllib.parse.quote(os.path.abspath(copy)),
        profile=tmp_path / "profile",
    )
    os.remove(copy)
    found = re.search(r'<html[^>]*data-probe="([^"]*)"', done.stdout)
    assert found, f"the probe did not report (rc {done.returncode}): {done.stderr[-2000:]}"
    result = json.loads(html.unescape(found.group(1)))
    result["console"] = _console_lines(done.stderr)
    return result


def png_size(path):
    with open(path, "rb") as f:
        head = f.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", head[16:24])


def file_of(url):
    return urllib.parse.unquote(urllib.parse.urlsplit(url).path)


def assert_page_works(report):
    assert report["errors"] == [] and report["console"] == []
    assert report["audio"]
    for a in report["audio"]:
        # the duration the browser decoded equals the file's (soundfile's frames / rate);
        # 1 ms covers the demuxer's rounding of the stream length
        assert a["error"] is None, a
        assert abs(a["duration"] - sf.info(file_of(a["src"])).duration) < 1e-3, a
    assert report["images"]
    for i in report["images"]:
        assert i["complete"] and i["width"] == png_size(file_of(i["src"]))[0], i


def test_page_of_a_real_run_in_chromium(tmp_path, capsys):
    melody = np.concatenate(
        [music.tone(music.midi_to_hz(p), duration_s=0.25, sr=SR) for p in (60, 64, 67, 72)]
    )
    (tmp_path / "in").mkdir()
    (tmp_path / "out dir").mkdir()  # a space: URLs must be quoted
    content, style = str(tmp_path / "in" / "content.wav"), str(tmp_path / "in" / "style.flac")
    # the run reads the content from 0.5 s in (--content_offset): the page plays that excerpt
    lead_in = music.tone(music.midi_to_hz(48), duration_s=0.5, sr=SR)
    sf.write(content, np.concatenate([0.3 * lead_in, 0.8 * melody / np.abs(melody).max()]), SR)
    sf.write(style, music.drum_pattern(bpm=120.0, duration_s=0.7, sr=SR, seed=1), SR)
    out = str(tmp_path / "out dir" / "transfer.wav")
    tiny = dict(TINY_NET_FLAGS, max_iter=3, chunk=3, checkpoint_every=0, preset="5")
    with flagsaver.flagsaver(content=content, content_offset=0.5, style=style, output=out, **tiny):
        transfer.main(["transfer"])
    capsys.readouterr()
    html_path = str(tmp_path / "out dir" / "transfer.html")

    report = probe(html_path, tmp_path)
    assert_page_works(report)
    assert [file_of(a["src"]) for a in report["audio"]] == [content, style, out]
    # the content's player starts where the run's excerpt does; the others at the start
    assert [a["start"] for a in report["audio"]] == [0.5, 0, 0]
    assert len(report["images"]) == 2  # spectrograms and losses
    assert report["extent"] <= report["width"]
    phone = probe(html_path, tmp_path, width=360)
    assert_page_works(phone)
    # a 360 px phone: wide tables scroll inside their own region, the page never sideways
    assert phone["width"] == 360 and phone["extent"] <= 360

    for name, window in (("desktop", "1280,1800"), ("phone", "390,844")):
        shot = str(tmp_path / f"{name}.png")
        done = _chromium(
            f"--window-size={window}", "--virtual-time-budget=10000", f"--screenshot={shot}",
            "file://" + urllib.parse.quote(html_path), profile=tmp_path / "profile",
        )
        assert done.returncode == 0 and _console_lines(done.stderr) == [], done.stderr[-2000:]
        assert png_size(shot) == tuple(map(int, window.split(",")))


def test_index_sorts_in_chromium(tmp_path):
    rows = []
    for i, score in enumerate([0.5, None, 2.0, 0.25]):
        wav = str(tmp_path / f"r{i}.wav")
        sf.write(wav, music.tone(220.0 * (i + 1), duration_s=0.2 + 0.1 * i, sr=SR), SR)
        rows.append({"page": None, "content": None, "style": [], "result": wav,
                     "config": {"seed": i}, "quality": {"score": score}})
    index = str(tmp_path / "index.html")
    long_path = "/".join(["a_long_folder_name"] * 12) + "/jobs.csv"  # must wrap on a phone
    page.write_index(index, rows, title="Four runs", note=f"--batch={long_path}")
    report = probe(index, tmp_path, sort=["Sort by score", "Sort by score", "Sort by result"])
    assert report["errors"] == [] and report["console"] == []
    phone = probe(index, tmp_path, width=360)
    assert phone["errors"] == [] and phone["extent"] <= phone["width"] == 360
    for a in report["audio"]:
        assert abs(a["duration"] - sf.info(file_of(a["src"])).duration) < 1e-3, a
    # ascending by score (the missing one last), then descending (still last), then by name
    assert report["sorts"] == [["4", "1", "3", "2"], ["3", "1", "4", "2"], ["1", "2", "3", "4"]]
