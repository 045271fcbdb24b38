"""Real-browser tier: Debian's chromium driven by Python Playwright against a real ComfyUI server
serving the real frontend (comfyui-frontend-package from PyPI). Screenshots go to test_artifacts/browser/."""
import shutil

import pytest

from testenv import REPO, load_host

ARTIFACTS = REPO / "test_artifacts" / "browser"
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def chromium_path() -> str:
    for name in ("chromium", "chromium-browser"):
        if shutil.which(name):
            return shutil.which(name)
    pytest.fail("Debian's chromium is not installed: run `bash tests/setup_host.sh` (it installs it as root)")


class Page:
    """A ComfyUI editor page with the console recorded."""

    def __init__(self, page, server):
        self.page, self.server, self.console = page, server, []
        page.on("console", lambda m: self.console.append((m.type, m.text, str(m.location))))
        page.on("pageerror", lambda e: self.console.append(("pageerror", str(e), str(e.stack))))

    def open(self):
        self.page.goto(self.server.url, wait_until="domcontentloaded")
        self.page.wait_for_function("() => window.app && window.app.graph && window.LiteGraph", timeout=90000)
        self.page.wait_for_function("() => window.app.extensions.length > 0", timeout=30000)

    def js(self, script, arg=None):
        return self.page.evaluate(script, arg)

    def screenshot(self, name, scale=0.65):
        """Save a screenshot with the graph's top-left corner in view (above the low-quality zoom level)."""
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.js("""(scale) => { const g = window.app.graph, ds = window.app.canvas.ds;
            const xs = g._nodes.map(n => n.pos[0]), ys = g._nodes.map(n => n.pos[1]);
            ds.scale = scale; ds.offset = [70 - Math.min(...xs, 0), 140 - Math.min(...ys, 0)];
            g.setDirtyCanvas(true, true); }""", scale)
        self.page.wait_for_timeout(400)
        self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"))

    def fit(self, viewport=(2560, 1440)):
        """A larger window with the whole graph in view at full detail (scale <= 1)."""
        self.page.set_viewport_size({"width": viewport[0], "height": viewport[1]})
        self.js("""async () => { const s = window.app.extensionManager.setting;
            await s.set('LiteGraph.Canvas.MinFontSizeForLOD', 1); await s.set('Comfy.Minimap.Visible', false); }""")
        self.js("""() => { const g = window.app.graph, ds = window.app.canvas.ds, T = window.LiteGraph.NODE_TITLE_HEIGHT;
            const b = [...g._nodes.map(n => [n.pos[0], n.pos[1] - T, n.pos[0] + n.size[0], n.pos[1] + n.size[1]]),
                       ...g._groups.map(r => [r.pos[0], r.pos[1], r.pos[0] + r.size[0], r.pos[1] + r.size[1]])];
            const x0 = Math.min(...b.map(r => r[0])), y0 = Math.min(...b.map(r => r[1]));
            const x1 = Math.max(...b.map(r => r[2])), y1 = Math.max(...b.map(r => r[3]));
            const W = window.innerWidth - 120, H = window.innerHeight - 140;
            ds.scale = Math.min(1, W / (x1 - x0), H / (y1 - y0));
            ds.offset = [100 / ds.scale - x0, 110 / ds.scale - y0]; g.setDirtyCanvas(true, true); }""")
        self.page.wait_for_timeout(600)

    def shot(self, name):
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"))

    def pack_errors(self):
        """Console errors that come from this pack's extension or nodes. The sandbox has no internet, so
        the frontend's look-ups of registry hosts fail for every node: those are not the pack's errors."""
        marks = ("training_free_video", "training-free-video", "TFV_", "tfv")
        return [c for c in self.console if c[0] in ("error", "pageerror") and "ERR_NAME_NOT_RESOLVED" not in c[1]
                and any(m in " ".join(c) for m in marks)]


@pytest.fixture(scope="session")
def server():
    load_host()
    from comfy_server import ComfyServer
    with ComfyServer(test_nodes=True) as srv:
        yield srv
        leaks = [line for line in srv.log().splitlines() if "memory leak" in line]
    if leaks:  # a model the pack kept alive after its prompt
        pytest.fail("the server log of this tier reports leaks:\n" + "\n".join(leaks))


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def editor(browser, server):
    context = browser.new_context(viewport={"width": 1920, "height": 1080})
    page = Page(context.new_page(), server)
    page.open()
    yield page
    context.close()
