"""Downloads against a loopback HTTP server (with and without Range support) and file:// URLs; no internet."""
from __future__ import annotations

import hashlib
import http.server
import io
import json
import tarfile
import threading
import zipfile
from pathlib import Path

import pytest

from occlusion import download as dl
from occlusion.download import DownloadError, Source, download, extract, fetch_coco, fetch_mpii

PAYLOAD = bytes(range(256)) * 1000 + b"tail"  # 256,004 bytes


class _Handler(http.server.BaseHTTPRequestHandler):
    """Serves ``server.root``; honours ``Range: bytes=N-`` when ``server.ranges``; ``server.truncate`` cuts bodies."""

    def do_GET(self) -> None:  # noqa: N802 (http.server naming)
        srv = self.server
        srv.requests.append({"path": self.path, "range": self.headers.get("Range")})
        path = srv.root / self.path.lstrip("/")
        if not path.is_file():
            self.send_error(404, "not found")
            return
        data = path.read_bytes()
        start = 0
        rng = self.headers.get("Range")
        if srv.ranges and rng and rng.startswith("bytes="):
            start = int(rng[len("bytes="):].split("-")[0])
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        sent = body[: srv.truncate] if srv.truncate is not None else body
        srv.sent_bytes += len(sent)  # counted before the write: the client may return as soon as it has the bytes
        self.wfile.write(sent)
        if srv.truncate is not None:
            self.close_connection = True

    def log_message(self, *args) -> None:
        pass


@pytest.fixture()
def server(tmp_path):
    root = tmp_path / "served"
    root.mkdir()
    (root / "data.bin").write_bytes(PAYLOAD)
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    srv.root, srv.ranges, srv.truncate, srv.requests, srv.sent_bytes = root, True, None, [], 0
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    srv.url = f"http://127.0.0.1:{srv.server_address[1]}"
    yield srv
    srv.shutdown()
    srv.server_close()
    thread.join(5)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_full_download_records_sha256(server, tmp_path):
    dest = tmp_path / "out" / "data.bin"
    assert download(f"{server.url}/data.bin", dest, progress=False) == dest
    assert dest.read_bytes() == PAYLOAD
    assert not dest.with_name("data.bin.part").exists()
    assert dest.with_name("data.bin.sha256").read_text() == f"{_sha(PAYLOAD)}  data.bin\n"
    assert server.requests == [{"path": "/data.bin", "range": None}]


def test_resume_from_partial_file_uses_range(server, tmp_path):
    dest = tmp_path / "data.bin"
    dest.with_name("data.bin.part").write_bytes(PAYLOAD[:100_000])
    download(f"{server.url}/data.bin", dest, sha256=_sha(PAYLOAD), progress=False)
    assert dest.read_bytes() == PAYLOAD
    assert server.requests == [{"path": "/data.bin", "range": "bytes=100000-"}]
    assert server.sent_bytes == len(PAYLOAD) - 100_000


def test_server_without_range_gives_full_download(server, tmp_path):
    server.ranges = False
    dest = tmp_path / "data.bin"
    dest.with_name("data.bin.part").write_bytes(PAYLOAD[:100_000])
    download(f"{server.url}/data.bin", dest, progress=False)
    assert dest.read_bytes() == PAYLOAD  # the stale prefix is not kept in front of the full body
    assert server.requests[0]["range"] == "bytes=100000-"
    assert server.sent_bytes == len(PAYLOAD)


def test_resume_false_ignores_partial_file(server, tmp_path):
    dest = tmp_path / "data.bin"
    dest.with_name("data.bin.part").write_bytes(b"garbage")
    download(f"{server.url}/data.bin", dest, resume=False, progress=False)
    assert dest.read_bytes() == PAYLOAD
    assert server.requests[0]["range"] is None


def test_partial_file_longer_than_remote_restarts(server, tmp_path):
    dest = tmp_path / "data.bin"
    dest.with_name("data.bin.part").write_bytes(PAYLOAD + b"extra")  # server answers 416
    download(f"{server.url}/data.bin", dest, progress=False)
    assert dest.read_bytes() == PAYLOAD
    assert [r["range"] for r in server.requests] == [f"bytes={len(PAYLOAD) + 5}-", None]


def test_interrupted_download_keeps_part_and_resumes(server, tmp_path):
    dest = tmp_path / "data.bin"
    server.truncate = 50_000
    with pytest.raises(DownloadError, match="run again to resume"):
        download(f"{server.url}/data.bin", dest, progress=False)
    part = dest.with_name("data.bin.part")
    assert part.read_bytes() == PAYLOAD[:50_000]
    assert not dest.exists()
    server.truncate = None
    download(f"{server.url}/data.bin", dest, sha256=_sha(PAYLOAD), progress=False)
    assert dest.read_bytes() == PAYLOAD
    assert server.requests[-1]["range"] == "bytes=50000-"


def test_sha256_mismatch_removes_file_and_names_it(server, tmp_path):
    dest = tmp_path / "data.bin"
    wrong = "0" * 64
    with pytest.raises(DownloadError) as err:
        download(f"{server.url}/data.bin", dest, sha256=wrong, progress=False)
    msg = str(err.value)
    assert str(dest) in msg and wrong in msg and _sha(PAYLOAD) in msg
    assert not dest.exists() and not dest.with_name("data.bin.part").exists()


def test_existing_file_is_verified_against_record(server, tmp_path):
    dest = tmp_path / "data.bin"
    download(f"{server.url}/data.bin", dest, progress=False)
    download(f"{server.url}/data.bin", dest, progress=False)
    assert len(server.requests) == 1  # verified against data.bin.sha256, not fetched again
    dest.write_bytes(b"corrupted")
    download(f"{server.url}/data.bin", dest, progress=False)
    assert dest.read_bytes() == PAYLOAD and len(server.requests) == 2
    (server.root / "data.bin").write_bytes(b"changed upstream")
    dest.unlink()
    with pytest.raises(DownloadError, match="data.bin.sha256"):
        download(f"{server.url}/data.bin", dest, progress=False)
    assert not dest.exists()


def test_http_error_names_url(server, tmp_path):
    with pytest.raises(DownloadError, match=r"/missing\.bin: HTTP 404"):
        download(f"{server.url}/missing.bin", tmp_path / "missing.bin", progress=False)


def test_file_url(tmp_path):
    src = tmp_path / "src.bin"
    src.write_bytes(PAYLOAD)
    dest = tmp_path / "dst" / "copy.bin"
    dest.parent.mkdir()
    dest.with_name("copy.bin.part").write_bytes(b"stale")  # file:// ignores Range: full copy
    download(src.as_uri(), dest, sha256=_sha(PAYLOAD), progress=False)
    assert dest.read_bytes() == PAYLOAD
    missing = (tmp_path / "nope.bin").as_uri()
    with pytest.raises(DownloadError, match=f"^{missing}: "):
        download(missing, tmp_path / "nope.bin", progress=False)


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def _tar(path: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return path


def test_extract_zip_and_tar(tmp_path):
    members = {"a/b.txt": b"hello", "c.txt": b"world"}
    for archive in (_zip(tmp_path / "x.zip", members), _tar(tmp_path / "x.tar.gz", members)):
        out = extract(archive, tmp_path / archive.name.replace(".", "_"))
        assert (out / "a" / "b.txt").read_bytes() == b"hello" and (out / "c.txt").read_bytes() == b"world"


@pytest.mark.parametrize("bad", ["../evil.txt", "a/../../evil.txt", "/abs/evil.txt"])
@pytest.mark.parametrize("kind", ["zip", "tar"])
def test_extract_rejects_unsafe_members(tmp_path, bad, kind):
    make = _zip if kind == "zip" else _tar
    archive = make(tmp_path / f"bad.{kind}", {"ok.txt": b"fine", bad: b"evil"})
    out = tmp_path / "deep" / "out"
    with pytest.raises(DownloadError, match="unsafe member") as err:
        extract(archive, out)
    assert bad in str(err.value) and str(archive) in str(err.value)
    assert not out.exists() and not (tmp_path / "evil.txt").exists() and not (tmp_path / "deep" / "evil.txt").exists()


def test_extract_rejects_tar_symlink_and_non_archives(tmp_path):
    archive = tmp_path / "link.tar"
    with tarfile.open(archive, "w") as tf:
        info = tarfile.TarInfo("link")
        info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tf.addfile(info)
    with pytest.raises(DownloadError, match="unsafe member 'link'"):
        extract(archive, tmp_path / "out")
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"not an archive")
    with pytest.raises(DownloadError, match="not a zip or tar"):
        extract(junk, tmp_path / "out")


def _local_sources(tmp_path: Path) -> dict[str, Source]:
    src = tmp_path / "mirror"
    src.mkdir()
    det = src / "det.json"
    det.write_text(json.dumps([{"image_id": 1, "category_id": 1, "bbox": [1, 2, 3, 4], "score": 0.9}]))
    files = {
        "coco_val2017_images": _zip(src / "val2017.zip", {"val2017/000000000139.jpg": b"jpg"}),
        "coco_train2017_images": _zip(src / "train2017.zip", {"train2017/000000000009.jpg": b"jpg"}),
        "coco_annotations_trainval2017": _zip(src / "ann.zip", {"annotations/person_keypoints_train2017.json": b"{}",
                                                               "annotations/person_keypoints_val2017.json": b"{}"}),
        "coco_val2017_person_detections": det,
        "mpii_images": _tar(src / "mpii.tar.gz", {"images/000001163.jpg": b"jpg"}),
        "mpii_annotations": _tar(src / "mpii_ann.tar", {"annotations/mpii_train.json": b"[1]",
                                                        "annotations/mpii_val.json": b"[2]",
                                                        "annotations/mpii_gt_val.mat": b"mat"}),
    }  # fmt: skip
    return {k: Source(p.as_uri(), dl.SOURCES[k].filename) for k, p in files.items()}


def test_fetch_coco_layout_and_skip(tmp_path):
    sources = _local_sources(tmp_path)
    root = tmp_path / "data"
    coco = fetch_coco(root, progress=False, sources=sources)
    assert coco == root / "coco"
    assert (coco / "val2017" / "000000000139.jpg").is_file() and (coco / "train2017" / "000000000009.jpg").is_file()
    assert (coco / "annotations" / "person_keypoints_val2017.json").is_file()
    det = coco / "person_detection_results" / "COCO_val2017_detections_AP_H_56_person.json"
    assert json.loads(det.read_text())[0]["score"] == 0.9
    assert not (root / "downloads" / "val2017.zip").exists()  # archive removed, its sha256 record kept
    recorded = (root / "downloads" / "val2017.zip.sha256").read_text().split()[0]
    assert recorded == dl.sha256sum(tmp_path / "mirror" / "val2017.zip")
    assert (coco / ".val2017.zip.done").read_text().strip() == recorded
    for p in (tmp_path / "mirror").iterdir():
        if p.suffix == ".zip":
            p.unlink()  # a second run must not need the archives
    assert fetch_coco(root, progress=False, sources=sources) == coco


def test_fetch_coco_rejects_html_detections(tmp_path):
    sources = _local_sources(tmp_path)
    page = tmp_path / "mirror" / "page.html"
    page.write_text("<html>quota exceeded</html>")
    sources["coco_val2017_person_detections"] = Source(page.as_uri(), "COCO_val2017_detections_AP_H_56_person.json")
    with pytest.raises(DownloadError, match="not a JSON list"):
        fetch_coco(tmp_path / "data", include_train=False, progress=False, sources=sources)
    assert not (tmp_path / "data" / "coco" / "person_detection_results" / page.name).exists()
    assert not (tmp_path / "data" / "coco" / "train2017").exists()


def test_fetch_mpii_renames_to_hrnet_layout(tmp_path):
    sources = _local_sources(tmp_path)
    mpii = fetch_mpii(tmp_path / "data", keep_archives=True, progress=False, sources=sources)
    assert (mpii / "images" / "000001163.jpg").read_bytes() == b"jpg"
    assert json.loads((mpii / "annot" / "train.json").read_text()) == [1]
    assert json.loads((mpii / "annot" / "valid.json").read_text()) == [2]
    assert (mpii / "annot" / "gt_valid.mat").read_bytes() == b"mat"
    assert not (mpii / ".annot.partial").exists()
    assert (tmp_path / "data" / "downloads" / "mpii_annotations.tar").is_file()


def test_sources_table_and_cli(tmp_path, monkeypatch, capsys):
    assert {"coco_val2017_images", "coco_train2017_images", "coco_annotations_trainval2017",
            "coco_val2017_person_detections", "mpii_images", "mpii_annotations"} <= set(dl.SOURCES)  # fmt: skip
    assert dl.SOURCES["coco_val2017_images"].url == "http://images.cocodataset.org/zips/val2017.zip"
    assert all(s.sha256 is None or len(s.sha256) == 64 for s in dl.SOURCES.values())
    for key, source in _local_sources(tmp_path).items():
        monkeypatch.setitem(dl.SOURCES, key, source)
    from occlusion.cli import main

    assert main(["download", "mpii", str(tmp_path / "data"), "--quiet"]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "data" / "mpii")
    assert (tmp_path / "data" / "mpii" / "annot" / "gt_valid.mat").is_file()
    with pytest.raises(SystemExit):
        main(["download", "imagenet", str(tmp_path)])
