"""tshark as the independent reference for TLS tests (Wireshark's dissector, not ours).

Functions here never import netsec_layers: they run ``tshark`` and reshape its output so tests can
compare it with what netsec_layers produces. A missing tshark raises ``TsharkMissingError`` (tests
must fail, not skip, when it is absent; they are marked ``integration``).

Records (``tshark_tls_records``) use ``-T json --no-duplicate-keys`` with TCP and TLS reassembly
on and application-data reassembly off, so there is one entry per TLS record in the frame that
completes it. Decrypted application data is read from the ``data`` layer that Wireshark hands
the plaintext to (``-d tls.port==P,data``); protocols that would otherwise claim it (HTTP,
HTTP/2, the TLS heuristics) are disabled.
"""

from __future__ import annotations

import hashlib
import json
import random
import shutil
import subprocess
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "TsharkError",
    "TsharkMissingError",
    "run_tshark",
    "tshark_fields",
    "tls_prefs",
    "tshark_tls_records",
    "tshark_follow_tls",
    "tshark_follow_tcp",
    "sidecar_bytes",
    "load_sidecar",
]

TSHARK_TIMEOUT = 120.0
# Dissectors that would take decrypted application data away from the plain ``data`` layer.
_CLAIMERS = ("http", "http2", "mq", "fix", "credssp", "rdpmt", "5gli")


class TsharkError(RuntimeError):
    """tshark failed or printed something we cannot parse."""


class TsharkMissingError(TsharkError):
    """tshark is not installed: integration tests must fail on this, not skip."""


def run_tshark(
    args: Sequence[str], *, timeout: float = TSHARK_TIMEOUT, errors: str = "strict"
) -> str:
    """Run ``tshark ARGS`` and return stdout; raise TsharkError on failure or timeout.

    ``errors`` is how undecodable output bytes are handled ("replace" for ``-G`` dumps)."""
    exe = shutil.which("tshark")
    if exe is None:
        raise TsharkMissingError(
            "tshark is not installed (apt-get install tshark); "
            "integration tests need it as the reference dissector"
        )
    try:
        proc = subprocess.run(
            [exe, *args],
            capture_output=True,
            text=True,
            errors=errors,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as e:
        raise TsharkError(f"tshark timed out after {timeout}s: {' '.join(args)}") from e
    if proc.returncode != 0:
        raise TsharkError(f"tshark failed ({proc.returncode}): {' '.join(args)}\n{proc.stderr}")
    return proc.stdout


def tshark_fields(
    pcap: str | Path,
    fields: Sequence[str],
    *,
    options: Sequence[str] = (),
    occurrence: str = "f",
    aggregator: str = "|",
) -> list[dict[str, str]]:
    """``tshark -T fields``: one dict per frame (``field -> value``, "" when absent).

    ``options`` go before the field list (``-o pref``, ``-d decode-as``, ``-Y filter``...);
    ``occurrence`` is tshark's ``-E occurrence`` ("f" first, "l" last, "a" all, joined by
    ``aggregator``).
    """
    args = ["-n", "-r", str(pcap), *options, "-T", "fields", "-E", "separator=\t"]
    args += ["-E", f"occurrence={occurrence}", "-E", f"aggregator={aggregator}"]
    for f in fields:
        args += ["-e", f]
    rows = []
    for line in run_tshark(args).splitlines():
        cols = line.split("\t")
        if len(cols) != len(fields):
            raise TsharkError(f"tshark printed {len(cols)} columns for {len(fields)} fields")
        rows.append(dict(zip(fields, cols, strict=True)))
    return rows


def tls_prefs(
    *,
    keylog: str | Path | None = None,
    rsa_key: str | Path | None = None,
    ports: Iterable[int] = (),
    extra_prefs: Iterable[str] = (),
) -> list[str]:
    """Common tshark options: reassembly on, app-data reassembly off, decode ports as TLS, keys."""
    args = [
        "-n",
        "-o",
        "tcp.desegment_tcp_streams:TRUE",
        "-o",
        "tls.desegment_ssl_records:TRUE",
        "-o",
        "tls.desegment_ssl_application_data:FALSE",
        "-o",
        "tcp.analyze_sequence_numbers:TRUE",
    ]
    for port in ports:
        args += ["-d", f"tcp.port=={int(port)},tls"]
    if keylog is not None:
        args += ["-o", f"tls.keylog_file:{Path(keylog)}"]
    else:
        # An empty value overrides any key log configured in the user's Wireshark profile.
        args += ["-o", "tls.keylog_file:"]
    if rsa_key is not None:
        # uat:rsa_keys fields: "key file or PKCS#11 URI","password"
        args += ["-o", f'uat:rsa_keys:"{Path(rsa_key)}",""']
    for pref in extra_prefs:
        args += ["-o", pref]
    return args


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _hexbytes(value: str) -> bytes:
    return bytes.fromhex(value.replace(":", ""))


def _handshake_types(record: dict[str, Any]) -> list[int]:
    types: list[int] = []
    for hs in _as_list(record.get("tls.handshake")):
        if isinstance(hs, dict):
            types += [int(t) for t in _as_list(hs.get("tls.handshake.type"))]
    return types


def _alert(record: dict[str, Any]) -> list[int] | None:
    msg = record.get("tls.alert_message")
    if not isinstance(msg, dict) or "tls.alert_message.level" not in msg:
        return None  # not an alert, or tshark could not decrypt it ("Encrypted Alert")
    return [int(msg["tls.alert_message.level"]), int(msg["tls.alert_message.desc"])]


def tshark_tls_records(
    pcap: str | Path,
    *,
    keylog: str | Path | None = None,
    rsa_key: str | Path | None = None,
    ports: Iterable[int] = (443,),
    extra_prefs: Iterable[str] = (),
) -> list[dict[str, Any]]:
    """One dict per TLS record as tshark sees it, in capture order.

    Keys: ``frame`` (frame that completes the record), ``stream`` (tcp.stream), ``src_port``,
    ``dst_port``, ``content_type`` (for TLS 1.3 protected records the *inner* type when tshark
    decrypted it, else the outer 23), ``opaque_type`` (outer type of a TLS 1.3 protected record,
    else None), ``version`` (record-layer version), ``length`` (fragment length),
    ``handshake_types`` (list), ``alert`` ([level, description] when tshark decoded it, else None),
    ``app_data`` (hex of the decrypted application data, else None).
    """
    ports = list(ports)
    args = [
        "-r",
        str(pcap),
        *tls_prefs(keylog=keylog, rsa_key=rsa_key, ports=ports, extra_prefs=extra_prefs),
    ]
    for port in ports:
        # Hand decrypted data to "data" (one layer per record). Without a dissector for the port,
        # tshark 4.0 with application-data reassembly off shows no decrypted data at all.
        args += ["-d", f"tls.port=={int(port)},data"]
    for proto in _CLAIMERS:
        args += ["--disable-protocol", proto]
    args += ["-Y", "tls", "-T", "json", "--no-duplicate-keys"]
    packets = json.loads(run_tshark(args) or "[]")
    records: list[dict[str, Any]] = []
    for pkt in packets:
        layers = pkt["_source"]["layers"]
        frame = int(_as_list(layers["frame"])[0]["frame.number"])
        tcp = _as_list(layers["tcp"])[0]
        stream = int(tcp["tcp.stream"])
        sport, dport = int(tcp["tcp.srcport"]), int(tcp["tcp.dstport"])
        data = [
            _hexbytes(d["data.data"]).hex()
            for d in _as_list(layers.get("data"))
            if isinstance(d, dict) and "data.data" in d
        ]
        frame_records: list[dict[str, Any]] = []
        for tls in _as_list(layers.get("tls")):
            if not isinstance(tls, dict):
                continue  # e.g. "Transport Layer Security" for a segment of a record
            for rec in _as_list(tls.get("tls.record")):
                if not isinstance(rec, dict) or "tls.record.length" not in rec:
                    continue
                opaque = rec.get("tls.record.opaque_type")
                ctype = rec.get("tls.record.content_type", opaque)
                frame_records.append(
                    {
                        "frame": frame,
                        "stream": stream,
                        "src_port": sport,
                        "dst_port": dport,
                        "content_type": int(ctype) if ctype is not None else None,
                        "opaque_type": int(opaque) if opaque is not None else None,
                        "version": int(rec["tls.record.version"], 16),
                        "length": int(rec["tls.record.length"]),
                        "handshake_types": _handshake_types(rec),
                        "alert": _alert(rec),
                        "app_data": None,
                    }
                )
        # Decrypted application data shows up as one ``data`` layer per non-empty record, in
        # order. A decrypted *empty* record (OpenSSL's TLS 1.0 CBC empty fragments, the BEAST
        # countermeasure) has no ``data`` layer: when there are fewer layers than records, the
        # shortest records are taken to be the empty ones and keep app_data None.
        appdata = [r for r in frame_records if r["content_type"] == 23]
        if data and len(data) <= len(appdata):
            empty = sorted(range(len(appdata)), key=lambda k: appdata[k]["length"])
            skip = set(empty[: len(appdata) - len(data)])
            paired = [r for k, r in enumerate(appdata) if k not in skip]
            for rec, hexdata in zip(paired, data, strict=True):
                rec["app_data"] = hexdata
        records += frame_records
    return records


def _follow(
    pcap: str | Path, proto: str, stream: int, prefs: list[str], server_ports: Iterable[int]
) -> tuple[bytes, bytes]:
    out = run_tshark(["-r", str(pcap), *prefs, "-q", "-z", f"follow,{proto},raw,{int(stream)}"])
    node0, unindented, indented = "", bytearray(), bytearray()
    in_body = False
    for line in out.splitlines():
        if line.startswith("Node 0:"):
            node0 = line.split(":", 1)[1].strip()
        elif line.startswith("Node 1:"):
            in_body = True
        elif in_body and line.startswith("===="):
            break
        elif in_body and line.strip():
            # raw follow: node 0's data unindented, node 1's after a tab.
            (indented if line.startswith("\t") else unindented).extend(bytes.fromhex(line.strip()))
    if not in_body:
        raise TsharkError(f"unexpected follow output: {out[:500]!r}")
    # Node 0 is the first side tshark saw data from: for follow,tls that can be the server (in
    # TLS 1.3 the first decrypted bytes may be the server's). tshark 4.0 prints node 1's address
    # as ":0", so decide from node 0's port.
    node0_port = int(node0.rsplit(":", 1)[1]) if ":" in node0 and node0.rsplit(":", 1)[1] else -1
    if node0_port in set(server_ports):
        return bytes(indented), bytes(unindented)
    return bytes(unindented), bytes(indented)


def tshark_follow_tls(
    pcap: str | Path,
    stream: int,
    *,
    keylog: str | Path | None = None,
    rsa_key: str | Path | None = None,
    ports: Iterable[int] = (443,),
    extra_prefs: Iterable[str] = (),
) -> tuple[bytes, bytes]:
    """Decrypted application data of TCP stream ``stream``: (client->server, server->client).

    ``ports`` are the server ports: they are decoded as TLS and tell the directions apart.
    """
    ports = list(ports)
    return _follow(
        pcap,
        "tls",
        stream,
        tls_prefs(keylog=keylog, rsa_key=rsa_key, ports=ports, extra_prefs=extra_prefs),
        ports,
    )


def tshark_follow_tcp(
    pcap: str | Path, stream: int, *, server_ports: Iterable[int] = ()
) -> tuple[bytes, bytes]:
    """TCP payload of stream ``stream`` as reassembled by tshark: (client->server, server->client).

    Without ``server_ports`` the client is the side of the stream's first packet (the SYN sender).
    """
    return _follow(
        pcap, "tcp", stream, ["-n", "-o", "tcp.desegment_tcp_streams:TRUE"], server_ports
    )


# --------------------------------------------------------------------------- sidecars


def load_sidecar(path: str | Path) -> dict[str, Any]:
    """Read a ``pcaps/tls/<name>.json`` ground-truth sidecar written by make_tls_captures.py."""
    return json.loads(Path(path).read_text())


def _from_recipe(recipe: dict[str, Any]) -> bytes:
    rnd = random.Random(int(recipe["seed"])).randbytes(int(recipe["random_length"]))
    if recipe["encoding"] == "hexlines":
        h = rnd.hex()
        body = "".join(h[i : i + 64] + "\n" for i in range(0, len(h), 64)).encode()
    else:
        body = rnd
    return str(recipe["header"]).encode() + body


def sidecar_bytes(connection: dict[str, Any], direction: str) -> bytes:
    """Exact application bytes one connection of a sidecar sent in ``direction`` ("c2s"/"s2c").

    Uses the stored hex when present, else rebuilds them from the recipe; checks the sha256.
    """
    if f"{direction}_hex" in connection:
        data = bytes.fromhex(connection[f"{direction}_hex"])
    else:
        data = b"".join(_from_recipe(r) for r in connection[f"{direction}_recipe"])
    if hashlib.sha256(data).hexdigest() != connection[f"{direction}_sha256"]:
        raise ValueError(f"sidecar {direction} bytes do not match their sha256")
    return data
