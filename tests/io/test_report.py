"""``netsec report``: the page parsed with the stdlib ``html.parser``, checked against truths
made by others: tshark's handshake messages per connection (the TLS sidecars, pcaps/README.md),
Scapy's own ESP layer for the sequence numbers, strongSwan's IKE SPIs (the IKE sidecars), and
replays/gaps made by construction.  One test loads the page in headless Chromium."""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netsec_layers.cli.main import main
from netsec_layers.io.report import ReportModel

ROOT = Path(__file__).resolve().parents[2]
PCAPS = ROOT / "pcaps"


class Page(HTMLParser):
    """Sections with their ladder arrows, plot points, IKE rows; every tag and attribute."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.sections: list[dict[str, Any]] = []
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        self.tags.append((tag, a))
        if tag == "section":
            self.sections.append({"attrs": a, "msgs": [], "points": [], "wraps": 0, "rows": []})
        elif not self.sections:
            return
        cur = self.sections[-1]
        if tag == "g" and "msg" in a.get("class", "").split():
            cur["msgs"].append(a)
        elif tag == "circle" and "pkt" in a.get("class", ""):
            cur["points"].append(a)
        elif tag == "line" and a.get("class") == "wrap":
            cur["wraps"] += 1
        elif tag == "tr" and "data-exchange" in a:
            cur["rows"].append(a)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def report(tmp_path: Path, pcap: Path, *keys: str, name: str = "r.html") -> Page:
    out = tmp_path / name
    assert main(["report", "-q", str(pcap), *keys, "-o", str(out)]) == 0
    page = Page()
    page.feed(out.read_text(encoding="utf-8"))
    return page


def self_contained(page: Page) -> None:
    """Nothing fetched from anywhere: no script, no link, no src/href to a resource."""
    for tag, a in page.tags:
        assert tag not in ("script", "link", "iframe", "img", "object", "embed"), tag
        for k in ("src", "href", "xlink:href"):
            assert k not in a, (tag, a)
    assert "url(" not in "".join(page.text) and "@import" not in "".join(page.text)


TLS_SIDECARS = sorted(
    p
    for p in (PCAPS / "tls").glob("*.json")
    if json.loads(p.read_text())["connections"][0].get("handshake_types")
)


@pytest.mark.parametrize("sidecar", TLS_SIDECARS, ids=lambda p: p.stem)
def test_tls_ladder_equals_tshark(sidecar: Path, tmp_path: Path) -> None:
    """Per connection and direction, the handshake messages on the ladder, in order, are the
    ones tshark decrypted with the key log (sidecar ``handshake_types``)."""
    meta = json.loads(sidecar.read_text())
    page = report(
        tmp_path, sidecar.with_suffix(".pcap"), "--keylog", str(sidecar.with_suffix(".keys"))
    )
    self_contained(page)
    ladders = {
        int(s["attrs"]["data-stream"]): s
        for s in page.sections
        if s["attrs"].get("data-proto") == "tls"
    }
    assert len(ladders) == len(meta["connections"])
    for conn in meta["connections"]:
        msgs = ladders[conn["tcp_stream"]]["msgs"]
        for d in ("c2s", "s2c"):
            got = [
                int(t) for m in msgs if m["data-dir"] == d for t in m["data-types"].split(",") if t
            ]
            assert got == conn["handshake_types"][d], (d, got)
        labels = [m["data-label"] for m in msgs]
        assert labels[0] == "ClientHello" and any(x.startswith("ServerHello") for x in labels)
        if 24 in conn["handshake_types"]["c2s"]:
            assert "KeyUpdate" in labels
        assert all("decrypted" in m["class"] or "clear" in m["class"] for m in msgs)


def _scapy_esp_seqs(pcap: Path) -> list[int]:
    from scapy.layers.ipsec import ESP
    from scapy.utils import rdpcap

    return [p[ESP].seq for p in rdpcap(str(pcap)) if ESP in p]


@pytest.mark.parametrize(
    "name",
    ["esp4_esn_wrap_gcm", "esp4_esn_wrap_cbc_sha256", "esp4_tunnel_cbc_sha256", "esp6_cbc_xcbc"],
)
def test_esp_plot_equals_scapy(name: str, tmp_path: Path) -> None:
    pcap = PCAPS / "xfrm" / f"{name}.pcap"
    page = report(tmp_path, pcap, "--esp-sa", str(pcap.with_suffix(".xfrm_state")))
    self_contained(page)
    plots = [s for s in page.sections if "sa" in s["attrs"].get("class", "").split()]
    by_spi: dict[int, list[int]] = {
        int(s["attrs"]["data-spi"], 16): [int(p["data-seq"]) for p in s["points"]] for s in plots
    }
    seqs = _scapy_esp_seqs(pcap)
    assert sorted(x for v in by_spi.values() for x in v) == sorted(seqs)
    assert all(p["data-mark"] == "ok" for s in plots for p in s["points"])
    wraps = sum(s["wraps"] for s in plots)
    # an ESN wrap is where Scapy's 32-bit numbers fall from the top quarter to the bottom one
    truth = sum(
        1 for a, b in zip(seqs, seqs[1:], strict=False) if a >= 0xC0000000 and b < 0x40000000
    )
    assert wraps == truth and ("esn_wrap" not in name or truth == 1)


def _pcap_frames(path: Path) -> tuple[bytes, list[bytes]]:
    data = path.read_bytes()
    assert data[:4] == b"\xd4\xc3\xb2\xa1"  # little-endian microsecond pcap
    frames, off = [], 24
    while off < len(data):
        incl = struct.unpack_from("<I", data, off + 8)[0]
        frames.append(data[off : off + 16 + incl])
        off += 16 + incl
    return data[:24], frames


def test_replay_and_gap_marked(tmp_path: Path) -> None:
    """An SA's 3rd packet removed (a gap) and its 1st sent again at the end (a replay, inside
    the default 64-packet window), by construction; (SPI, seq) of each frame read by Scapy."""
    from scapy.layers.ipsec import ESP
    from scapy.utils import rdpcap

    src = PCAPS / "esp" / "esp-transport-gcm.pcap"
    head, frames = _pcap_frames(src)
    ids = [(p[ESP].spi, p[ESP].seq) for p in rdpcap(str(src))]
    spi = ids[0][0]
    mine = [i for i, (s, _) in enumerate(ids) if s == spi]
    assert len(mine) >= 4
    dropped = mine[2]
    bent = [f for i, f in enumerate(frames) if i != dropped] + [frames[mine[0]]]
    cap = tmp_path / "bent.pcap"
    cap.write_bytes(head + b"".join(bent))
    page = report(tmp_path, cap, "--esp-sa", str(src.with_suffix(".esp_sa")))
    plot = next(s for s in page.sections if s["attrs"].get("data-spi") == f"0x{spi:08x}")
    marks = [(int(p["data-seq"]), p["data-mark"]) for p in plot["points"]]
    assert marks[-1] == (ids[mine[0]][1], "replay")
    assert (ids[mine[3]][1], "gap") in marks
    assert [m for _, m in marks].count("replay") == 1
    assert [m for _, m in marks].count("gap") == 1


def test_ike_sas_equal_strongswan(tmp_path: Path) -> None:
    pcap = PCAPS / "ike" / "strongswan_ikev2.pcap"
    page = report(tmp_path, pcap, "--ike-keys", str(pcap.with_suffix(".ikev2_decryption_table")))
    ike = {
        (s["attrs"]["data-spi-i"], s["attrs"]["data-spi-r"]): s
        for s in page.sections
        if s["attrs"].get("class") == "ike"
    }
    truth = {
        (x["spi_i"], x["spi_r"]) for x in json.loads(pcap.with_suffix(".ike.json").read_text())
    }
    assert set(ike) == truth
    exchanges = [r["data-exchange"] for s in ike.values() for r in s["rows"]]
    assert "IKE_SA_INIT" in exchanges and "IKE_AUTH" in exchanges and "CREATE_CHILD_SA" in exchanges


def test_text_from_the_capture_is_escaped() -> None:
    m = ReportModel("<b>t</b>")
    m.add_unit(
        {
            "proto": "ssh",
            "frame": 1,
            "stream": 0,
            "dir": "c2s",
            "banner": "SSH-2.0-<script>alert(1)</script>",
        },
        1,
    )
    m.add_unit(
        {
            "proto": "esp",
            "frame": 2,
            "spi": 1,
            "seq": 1,
            "decrypted": False,
            "error": "<img src=x>",
        },
        2,
    )
    page = Page()
    page.feed(m.render())
    assert not any(t in ("script", "img") for t, _ in page.tags)
    assert "<b>t</b>" in "".join(page.text)
    assert "SSH-2.0-<script>alert(1)</script>" in "".join(page.text)


@pytest.mark.integration
def test_chromium_renders_page(tmp_path: Path) -> None:
    """Debian's headless Chromium loads the page (file://, network off): the DOM it built has
    the ladders and plots, and a screenshot is kept in the test's directory."""
    exe = shutil.which("chromium")
    assert exe, "chromium is needed (Debian package chromium; tools/run_tests.sh installs it)"
    pcap = PCAPS / "tls" / "tls13-keyupdate.pcap"
    out = tmp_path / "tls.html"
    assert (
        main(
            ["report", "-q", str(pcap), "--keylog", str(pcap.with_suffix(".keys")), "-o", str(out)]
        )
        == 0
    )
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             f"--user-data-dir={tmp_path / 'profile'}"]  # fmt: skip
    dom = subprocess.run(
        [exe, *flags, "--enable-logging=stderr", "--v=0", "--dump-dom", out.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    # the page loads without errors: no console message, no resource that failed to load
    for needle in ("CONSOLE", "Uncaught", "Failed to load", "ERR_"):
        assert needle not in dom.stderr, dom.stderr[-2000:]
    built = Page()
    built.feed(dom.stdout)
    svgs = [a for t, a in built.tags if t == "svg"]
    assert len(svgs) == 1 and "ladder" in svgs[0]["class"]
    assert sum(1 for t, a in built.tags if t == "g" and "msg" in a.get("class", "")) == 18
    shot = tmp_path / "report.png"
    run = subprocess.run(
        [exe, *flags, f"--screenshot={shot}", "--window-size=1100,1400", out.as_uri()],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert run.returncode == 0 and shot.exists(), run.stderr[-2000:]
    png = shot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", png[16:24]) == (1100, 1400) and len(png) > 20_000


_VAL = st.none() | st.booleans() | st.integers(-(2**66), 2**66) | st.text(max_size=6)
_ANY = st.recursive(
    _VAL,
    lambda i: st.lists(i, max_size=3) | st.dictionaries(st.text(max_size=3), i, max_size=2),
    max_leaves=5,
)
_KEY = st.sampled_from(
    ["frame", "stream", "dir", "seq", "spi", "spi_i", "spi_r", "decrypted", "error", "alert",
     "handshake_types", "inner_content_type", "msg_type", "banner", "warnings", "flags",
     "exchange_type", "version", "app_data", "length"]
)  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["tls", "dtls", "ssh", "esp", "ah", "ike", "smtp", "?"]),
            st.dictionaries(_KEY, _ANY, max_size=10),
            st.none() | st.integers(0, 2**63),
        ),
        max_size=15,
    )
)
def test_any_units_render(units: list[tuple[str, dict[str, Any], int | None]]) -> None:
    """Units of any shape never make the report raise, and the page parses."""
    m = ReportModel("fuzz")
    for proto, obj, ts in units:
        m.add_unit({"proto": proto, **obj}, ts)
        m.add_info({"proto": proto, **obj})
    page = Page()
    page.feed(m.render())
    assert any(a.get("id") == "summary" for t, a in page.tags if t == "section")
