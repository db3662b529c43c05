"""The real thing: `eventlake dashboard` serving the known warehouse, seen by a headless Chromium.

The picture is kept at EVENTLAKE_HOME/reports/dashboard.png (and in the test's tmp folder): the
overview's KPIs, the events-over-time, funnel and revenue charts, with data and no error box.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image

from tests.dashboard.browser import find_chromium, headless_chromium
from tests.dashboard.conftest import Home
from tests.ports import free_port

pytestmark = pytest.mark.slow

RENDERED = """
document.querySelectorAll('[data-testid="stMetric"]').length >= 4
&& document.querySelectorAll('[data-testid="stPlotlyChart"] .main-svg').length >= 3
&& document.querySelectorAll('[data-testid="stDataFrame"]').length >= 2
"""


@pytest.fixture
def dashboard_url(warehouse_home: Home, fake_api: str, tmp_path: Path) -> Iterator[str]:
    """`eventlake dashboard` on a free loopback port, over the known warehouse."""
    port = free_port()
    env = {
        **os.environ,
        "EVENTLAKE_HOME": str(warehouse_home.path),
        "EVENTLAKE_API_URL": fake_api,
    }
    log = (tmp_path / "streamlit.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "eventlake.cli", "dashboard", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, (tmp_path / "streamlit.log").read_text()
            try:
                if httpx.get(f"{url}/_stcore/health", timeout=1).text == "ok":
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the dashboard did not answer within 60 s"
            time.sleep(0.2)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


def test_the_dashboard_renders_in_a_real_browser(
    dashboard_url: str, warehouse_home: Home, tmp_path: Path
) -> None:
    chromium = find_chromium()
    if chromium is None:
        pytest.fail("no chromium: `make system-packages` installs Debian's (as root)")
    shot = warehouse_home.path / "reports" / "dashboard.png"
    with headless_chromium(chromium, dashboard_url, tmp_path / "profile") as page:
        rendered = page.wait_for(RENDERED, timeout=60)
        time.sleep(1)  # plotly's last layout pass
        page.screenshot(shot)
        dom = page.dom()
    shutil.copy(shot, tmp_path / "dashboard.png")
    assert rendered, f"the overview did not render within 60 s; screenshot: {shot}"

    assert "stException" not in dom
    assert "Traceback" not in dom
    for text in (
        "Events over time",
        "Funnel (distinct users)",
        "Revenue over time",
        "Top users",
        "Conversion",
        "33.3%",
        "15.00",
    ):
        assert text in dom, text
    assert dom.count('data-testid="stPlotlyChart"') == 3

    assert shot.stat().st_size > 50_000
    with Image.open(shot) as image:
        assert image.size == (1400, 2400)
        colours = image.convert("RGB").getcolors(maxcolors=1 << 24)
    assert colours is not None
    assert len(colours) > 500  # charts, text, and not a blank page
    white = sum(count for count, rgb in colours if min(rgb) >= 250)
    assert white < 0.97 * 1400 * 2400
