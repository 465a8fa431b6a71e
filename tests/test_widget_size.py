"""The widget as shipped: within its size budget, what its source builds to, and how the
gateway serves it and its site settings.

The gateway serves ``static/widget.js`` as committed, so a source change without a
rebuild (``npm run build:widget``) would ship stale code; these tests catch that.
"""

from __future__ import annotations

import gzip
import shutil
import subprocess
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tandem_gateway.app import create_app
from tandem_gateway.domain.sites import Site
from tandem_gateway.entrypoints.widget_assets import widget_config
from tandem_gateway.settings import GatewaySettings

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[1]
GATEWAY = REPO / "services" / "gateway" / "src" / "tandem_gateway"
WIDGET_JS = GATEWAY / "static" / "widget.js"
WIDGET_SOURCE = GATEWAY / "widget"
BUDGET_BYTES = 50 * 1024

NODE = shutil.which("node")
needs_node = pytest.mark.skipif(
    NODE is None, reason="Node.js is not installed: the widget cannot be rebuilt to compare"
)


def _node_tool(relative: str) -> Path:
    tool = REPO / "node_modules" / relative
    if not tool.exists():
        pytest.fail(f"{tool.relative_to(REPO)} is missing: run `npm ci` at the repository root")
    return tool


def test_widget_is_within_its_gzipped_size_budget() -> None:
    gzipped = len(gzip.compress(WIDGET_JS.read_bytes(), compresslevel=9))
    assert gzipped <= BUDGET_BYTES, (
        f"widget.js is {gzipped} bytes gzipped, over the {BUDGET_BYTES}-byte budget"
    )


def test_widget_build_has_no_markup_sinks() -> None:
    """Text reaches the page through textContent only; these would let markup in."""
    source = WIDGET_JS.read_text(encoding="utf-8")
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in source, sink


@needs_node
def test_committed_widget_equals_a_fresh_build(tmp_path: Path) -> None:
    _node_tool("esbuild")
    fresh = tmp_path / "widget.js"
    subprocess.run(
        [NODE, str(WIDGET_SOURCE / "build.mjs"), "--outfile", str(fresh)],
        cwd=REPO,
        check=True,
        timeout=120,
    )
    assert fresh.read_bytes() == WIDGET_JS.read_bytes(), (
        "static/widget.js is stale: run `npm run build:widget` and commit the result"
    )


@needs_node
def test_widget_source_type_checks() -> None:
    tsc = _node_tool("typescript/bin/tsc")
    result = subprocess.run(
        [NODE, str(tsc), "-p", str(WIDGET_SOURCE / "tsconfig.json")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr


# -- how the gateway serves it ---------------------------------------------------------


@pytest.fixture(scope="module")
def gateway() -> TestClient:
    # Without the lifespan: serving the script touches no Kafka, Redis or service.
    return TestClient(create_app(GatewaySettings(dev_mode=True)))


def test_gateway_serves_the_script_cross_origin_with_cache_validation(
    gateway: TestClient,
) -> None:
    response = gateway.get("/widget.js", headers={"Origin": "https://shop.example"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/javascript; charset=utf-8"
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.headers["cross-origin-resource-policy"] == "cross-origin"
    assert "max-age=" in response.headers["cache-control"]
    assert response.content == WIDGET_JS.read_bytes()
    etag = response.headers["etag"]
    again = gateway.get("/widget.js", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""


def test_gateway_compresses_the_script_only_for_clients_that_accept_gzip(
    gateway: TestClient,
) -> None:
    plain = gateway.get("/widget.js", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    zipped = gateway.get("/widget.js", headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["content-encoding"] == "gzip"
    assert int(zipped.headers["content-length"]) <= BUDGET_BYTES
    assert "Accept-Encoding" in zipped.headers["vary"]


def test_widget_config_exposes_the_look_but_no_secrets() -> None:
    site = Site(
        site_id="acme",
        public_key="pk_acme",
        allowed_origins=("https://acme.example",),
        greeting="Hello from Acme",
        identity_secret="s3cret",
        show_confidence=False,
        widget={
            "color": "#0a7d38",
            "position": "bottom-left",
            "locale_strings": {"fr": {"title": "Discutez avec Acme"}},
        },
    )
    config = widget_config(site).model_dump(exclude_none=True)
    assert config == {
        "greeting": "Hello from Acme",
        "show_confidence": False,
        "widget": {"color": "#0a7d38", "position": "bottom-left"},
        "locale_strings": {"fr": {"title": "Discutez avec Acme"}},
    }


def test_widget_config_replaces_malformed_look_settings_with_defaults() -> None:
    site = Site(
        site_id="acme",
        public_key="pk_acme",
        widget={
            "color": "red; background:url(javascript:alert(1))",
            "position": "top-middle",
            "locale_strings": {
                "../etc": {"title": "x"},
                "de": {"title": 3, "bad key!": "x", "send": "Abschicken"},
                "es": "not a dict",
            },
        },
    )
    config = widget_config(site)
    assert config.widget.color == "#2f5bea"
    assert config.widget.position == "bottom-right"
    assert config.locale_strings == {"de": {"send": "Abschicken"}}
