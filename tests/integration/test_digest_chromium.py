"""The HTML digest in a real browser (Debian's headless Chromium): it renders, every chart image
decodes, nothing violates its Content-Security-Policy and the page makes no network request
(Chromium is pointed at a local proxy that counts and refuses every request, so nothing leaves the
machine; the page's own requests must be none, and its resource timing empty). A screenshot is checked too;
with AIOPS_UPDATE_DOCS=1 it is saved to docs/digest.png for the README."""
from __future__ import annotations

import html as html_lib
import json
import os
import re
import shutil
import signal
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pytest
from matplotlib.image import imread

from tests.integration.integration_support import clean_env, require_executable
from monitor.digest.builder import build_digest
from monitor.digest.render import render, write_files
from monitor.storage.history import History
from collectors.litellm.store import Store
from monitor.storage.database import open_database
from tests.monitor.digest.digest_support import DAY, W02, fake_report, seed_weeks

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-default-apps", "--disable-extensions", "--hide-scrollbars", "--mute-audio",
         # the browser's own background traffic (time checks, component updates, sign-in)
         "--no-pings", "--disable-domain-reliability", "--disable-client-side-phishing-detection",
         "--safebrowsing-disable-auto-update", "--disable-breakpad", "--bwsi", "--metrics-recording-only",
         "--disable-features=NetworkTimeServiceQuerying,OptimizationHints,MediaRouter,Translate,"
         "AutofillServerCommunication,CertificateTransparencyComponentUpdater,DialMediaRouteProvider"]
PROBE = """<script>
window.__violations = []; window.__errors = [];
document.addEventListener('securitypolicyviolation', e => window.__violations.push(e.violatedDirective + ' ' + e.blockedURI));
window.addEventListener('error', e => window.__errors.push(String(e.message || (e.target && (e.target.src || e.target.href)))), true);
window.addEventListener('load', () => document.body.setAttribute('data-probe', JSON.stringify({
  images: [...document.images].map(i => ({complete: i.complete, width: i.naturalWidth, height: i.naturalHeight})),
  resources: performance.getEntriesByType('resource').map(e => e.name),
  violations: window.__violations, errors: window.__errors, title: document.title})));
</script>"""


def browser_service(request: str) -> bool:
    """Chromium's own background calls (component updates, network time, sign-in), which its flags
    do not fully silence. The proxy refuses them too; they are not the page's."""
    host = urlsplit(request.split(" ", 1)[1] if "://" in request else "//" + request.split(" ", 1)[1]).hostname or ""
    return host in ("clients2.google.com", "accounts.google.com") or host.endswith((".googleapis.com", ".gvt1.com"))


class CountingProxy:
    """Every request Chromium would send to the network arrives here instead, and is refused."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def _any(self):
                proxy.requests.append(f"{self.command} {self.path}")
                self.send_response(403)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_POST = do_CONNECT = do_HEAD = _any

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.address = f"127.0.0.1:{self.server.server_port}"

    def page_requests(self) -> list[str]:
        return [r for r in self.requests if not browser_service(r)]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def chromium() -> Path:
    return require_executable(["/usr/bin/chromium", "chromium"], "Chromium (Debian package `chromium`)")


@pytest.fixture
def proxy():
    p = CountingProxy()
    yield p
    p.close()


def run_chromium(binary: Path, page: Path, workdir: Path, proxy: CountingProxy, *args: str) -> str:
    profile = workdir / f"profile-{len(list(workdir.glob('profile-*')))}"
    cmd = [str(binary), *FLAGS, f"--user-data-dir={profile}", f"--proxy-server=http://{proxy.address}",
           "--proxy-bypass-list=<-loopback>", *args, page.as_uri()]
    process = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                               env=clean_env(HOME=str(workdir)), start_new_session=True)
    try:
        out, err = process.communicate(timeout=90)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        pytest.fail("Chromium did not finish within 90 s", pytrace=False)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode == 0, err.decode(errors="replace")[-2000:]
    return out.decode(errors="replace")


def probe(binary: Path, page: Path, workdir: Path, proxy: CountingProxy) -> dict:
    """Load a copy of the page with a probe script (the copy's CSP also allows inline scripts) and
    read what the probe wrote into the DOM after the load event."""
    text = page.read_text()
    text = text.replace("default-src 'none';", "default-src 'none'; script-src 'unsafe-inline';", 1)
    text = re.sub(r"(<meta http-equiv=\"Content-Security-Policy\"[^>]*>)", lambda m: m.group(1) + PROBE, text, count=1)
    probed = page.with_name("probe.html")
    probed.write_text(text)
    dom = run_chromium(binary, probed, workdir, proxy, "--virtual-time-budget=10000", "--dump-dom")
    match = re.search(r'data-probe="([^"]*)"', dom)
    assert match, f"the probe did not run:\n{dom[:1000]}"
    return {**json.loads(html_lib.unescape(match.group(1))), "dom": dom}


@pytest.fixture
def digest_page(tmp_path) -> Path:
    store = Store(open_database(f"sqlite:///{tmp_path / 'h.db'}"))
    history = History(store.engine)
    seed_weeks(history, W02, 8, [{"error_rate": 0.12 - 0.012 * k, "cache_rate": 0.1 + 0.04 * k,
                                  "attributed": 0.6 + 0.04 * k, "latency": 0.7 - 0.03 * k} for k in range(8)])
    late = W02 + 7 * 7 * DAY + 6 * DAY
    history.record(fake_report(late, error_rate=0.03, cache_rate=0.2, attributed=0.85, latency=0.45), late)
    incidents = [{"id": "a", "title": "Provider 5xx burst", "team": "search", "severity": "page",
                  "opened_at": late - 7200, "resolved_at": late - 5400}]
    digest = build_digest(history, "2026-W09", "UTC", "aiops", ["api_error_rate", "provider_availability",
                                                               "latency_p95_seconds", "cache_hit_rate",
                                                               "cost_attribution_coverage", "monthly_spend_usd"],
                          incidents=incidents, now=late + DAY)
    paths = write_files(render(digest), tmp_path / "out")
    store.close()
    return paths["html"]


def test_the_digest_renders_offline_with_every_chart_decoded(chromium, digest_page, proxy, tmp_path):
    charts = len(list((digest_page.parent / "charts").glob("*.png")))
    result = probe(chromium, digest_page, tmp_path, proxy)
    assert result["title"] == "AI-ops maturity digest 2026-W09"
    assert len(result["images"]) == charts == 7
    for image in result["images"]:
        assert image["complete"] and image["width"] == 462 and image["height"] == 187, image
    assert result["violations"] == [] and result["errors"] == []
    assert "What blocks level" in result["dom"] and "Provider 5xx burst" in result["dom"]
    assert result["resources"] == [] and proxy.page_requests() == [], "\n".join(proxy.requests)

    shot = tmp_path / "digest.png"
    run_chromium(chromium, digest_page, tmp_path, proxy, "--window-size=1000,2650", f"--screenshot={shot}")
    pixels = imread(shot)
    assert pixels.shape[:2] == (2650, 1000)
    assert float(np.std(pixels[:1500, :, :3])) > 0.05  # not a blank page
    assert proxy.page_requests() == []
    if os.environ.get("AIOPS_UPDATE_DOCS") == "1":
        (REPO / "docs").mkdir(exist_ok=True)
        shutil.copyfile(shot, REPO / "docs" / "digest.png")


def test_a_week_without_data_renders_its_message_and_no_image(chromium, tmp_path, proxy):
    store = Store(open_database(f"sqlite:///{tmp_path / 'empty.db'}"))
    page = write_files(render(build_digest(History(store.engine), "2026-W09", now=W02 + 60 * DAY)), tmp_path / "out")["html"]
    store.close()
    result = probe(chromium, page, tmp_path, proxy)
    assert result["images"] == [] and result["violations"] == [] and result["errors"] == []
    assert "No data was recorded this week." in result["dom"]
    assert result["resources"] == [] and proxy.page_requests() == []


def test_the_probe_sees_a_page_that_reaches_out(chromium, tmp_path, proxy):
    """The checks above can fail: an external image in a page with the digest's CSP is blocked and
    reported; without the CSP it reaches the proxy."""
    page = tmp_path / "leaky.html"
    csp = '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; img-src data: cid:">'
    page.write_text(f"<html><head>{csp}<title>t</title></head><body><img src='http://example.invalid/x.png'></body></html>")
    result = probe(chromium, page, tmp_path, proxy)
    assert result["violations"] and result["images"][0]["width"] == 0
    page.write_text("<html><head><meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
                    "img-src *\"><title>t</title></head><body><img src='http://example.invalid/x.png'></body></html>")
    probe(chromium, page, tmp_path, proxy)
    assert any("example.invalid" in r for r in proxy.page_requests())
