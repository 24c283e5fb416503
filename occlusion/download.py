"""Download and unpack the paper profile's real data: COCO 2017, HRNet's person detections, MPII.

Nothing here runs in tests against the internet: the project's default dataset is generated
(:mod:`occlusion.synthetic`). With internet access::

    occlusion download coco data              # data/coco/{train2017,val2017,annotations,person_detection_results}
    occlusion download mpii data              # data/mpii/{images,annot}
    occlusion download ochuman data           # checks (and records the sha256 of) hand-fetched data/ochuman/...
    occlusion download crowdpose data         # likewise data/crowdpose/... (no direct URL is known for either)

:func:`download` streams to ``<dest>.part``, resumes a partial file with an HTTP ``Range`` request (and falls
back to a full download when the server ignores it), checks sha256 and renames atomically. Where no sha256
is known in advance, the first download writes ``<dest>.sha256`` and later runs verify against it.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tarfile
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Callable, Mapping, Sequence

from .progress import progress_bar

log = logging.getLogger(__name__)

__all__ = ["DownloadError", "Source", "SOURCES", "download", "extract", "fetch_coco", "fetch_mpii", "sha256sum",
           "ManualFiles", "MANUAL", "fetch_manual"]

_CHUNK = 1 << 20


class DownloadError(RuntimeError):
    """A download, checksum or archive problem; the message names the URL or file."""


@dataclass(frozen=True)
class Source:
    """One downloadable file of the paper profile."""

    url: str
    filename: str
    """Name of the downloaded file (under ``ROOT/downloads`` for archives)."""
    sha256: str | None = None
    """Known sha256, or None: the first download records it in ``<file>.sha256`` and later runs check it."""
    note: str = ""


# sha256 is None everywhere: none of these hosts publishes a sha256, and a value is recorded here only when
# known for certain. The first download of each file writes <file>.sha256; later runs verify against it.
SOURCES: dict[str, Source] = {
    "coco_val2017_images": Source(
        "http://images.cocodataset.org/zips/val2017.zip", "val2017.zip",
        note="COCO 2017 val images (5k, about 0.8 GB); unpacks to val2017/"),
    "coco_train2017_images": Source(
        "http://images.cocodataset.org/zips/train2017.zip", "train2017.zip",
        note="COCO 2017 train images (118k, about 18 GB); unpacks to train2017/"),
    "coco_annotations_trainval2017": Source(
        "http://images.cocodataset.org/annotations/annotations_trainval2017.zip", "annotations_trainval2017.zip",
        note="COCO 2017 annotations incl. person_keypoints_{train,val}2017.json (about 0.25 GB); unpacks to "
             "annotations/"),
    # HRNet's README publishes this file in a OneDrive folder and the GoogleDrive folder
    # 1fRUDNUDxe9fjqcRZ2bnF_TKMlO0nB_dk; the id below is that file's GoogleDrive id as used by public setup
    # scripts. Drive serves files of this size (about 16 MB) without its virus-scan page; fetch_coco reports an
    # HTML answer instead of JSON as an error.
    "coco_val2017_person_detections": Source(
        "https://drive.google.com/uc?export=download&id=1ygw57X-mh0QBfENB-U5DsuSauGIu-8RB",
        "COCO_val2017_detections_AP_H_56_person.json",
        note="HRNet's person detections on COCO val2017 (detector AP 56.4), COCO results format"),
    "mpii_images": Source(
        "https://datasets.d2.mpi-inf.mpg.de/andriluka14cvpr/mpii_human_pose_v1.tar.gz", "mpii_human_pose_v1.tar.gz",
        note="MPII Human Pose images (about 12 GB); unpacks to images/"),
    # HRNet publishes its MPII jsons (train.json, valid.json, test.json, gt_valid.mat) only in OneDrive and
    # GoogleDrive folders; OpenMMLab mirrors the same json layout (image, center, scale, joints, joints_vis)
    # as mpii_{train,val,test}.json + mpii_gt_val.mat, which fetch_mpii renames to HRNet's names.
    "mpii_annotations": Source(
        "https://download.openmmlab.com/mmpose/datasets/mpii_annotations.tar", "mpii_annotations.tar",
        note="MPII annotations in HRNet's json layout (OpenMMLab mirror)"),
}  # fmt: skip

_MPII_ANNOTATION_NAMES = {"mpii_train.json": "train.json", "mpii_val.json": "valid.json",
                          "mpii_test.json": "test.json", "mpii_gt_val.mat": "gt_valid.mat"}  # fmt: skip
_MPII_ANNOTATIONS = ("train.json", "valid.json", "gt_valid.mat")
"""The MPII annotation files the pipeline needs (``test.json`` is optional)."""


def sha256sum(path: str | Path) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def _record_path(dest: Path) -> Path:
    return dest.with_name(dest.name + ".sha256")


def _recorded(dest: Path) -> str | None:
    record = _record_path(dest)
    return record.read_text().split()[0] if record.is_file() else None


def _open(url: str, offset: int, timeout: float) -> Any:
    """The response to GET ``url`` (from byte ``offset`` on), or None when the server answers 416 to that range."""
    headers = {"User-Agent": "occlusion-download/1.0"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    try:
        return urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and offset:
            return None
        raise DownloadError(f"{url}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise DownloadError(f"{url}: {getattr(exc, 'reason', exc)}") from None


def _fetch_part(url: str, part: Path, resume: bool, progress: bool, timeout: float) -> str:
    """Stream ``url`` into ``part`` (appending when the server honours Range); returns the sha256 of the result."""
    offset = part.stat().st_size if resume and part.is_file() else 0
    resp = _open(url, offset, timeout)
    if resp is None:  # 416: the partial file is not a prefix the server can continue
        offset, resp = 0, _open(url, 0, timeout)
    with resp:
        status = getattr(resp, "status", None)  # None for file:// URLs
        if offset and (status != 206 or not resp.headers.get("Content-Range", "").startswith(f"bytes {offset}-")):
            offset = 0  # the server ignored Range (or answered another range): download it all again
        length = resp.headers.get("Content-Length")
        total = offset + int(length) if length is not None else None
        h = hashlib.sha256()
        if offset:
            with open(part, "rb") as f:
                for chunk in iter(lambda: f.read(_CHUNK), b""):
                    h.update(chunk)
        done = offset
        bar = progress_bar(total=total, initial=offset, unit="B", unit_scale=True, desc=part.name[: -len(".part")],
                           disable=not progress)  # fmt: skip
        with bar, open(part, "ab" if offset else "wb") as f:
            try:
                for chunk in iter(lambda: resp.read(_CHUNK), b""):
                    f.write(chunk)
                    h.update(chunk)
                    done += len(chunk)
                    bar.update(len(chunk))
            except OSError as exc:
                raise DownloadError(f"{url}: interrupted after {done} bytes ({exc}); run again to resume") from None
    if total is not None and done != total:
        raise DownloadError(f"{url}: got {done} of {total} bytes; run again to resume from {part}")
    return h.hexdigest()


def download(url: str, dest: str | Path, *, sha256: str | None = None, resume: bool = True, progress: bool = True,
             timeout: float = 60.0) -> Path:
    """Download ``url`` (http, https or file) to ``dest`` and return ``dest``.

    The data goes to ``<dest>.part`` first; with ``resume`` an existing part is continued with an HTTP Range
    request, and the whole file is fetched again when the server ignores Range. The result is checked against
    ``sha256`` or, when that is None, against ``<dest>.sha256`` from an earlier run (written after the first
    download). On a mismatch the file is removed and :class:`DownloadError` names it and both hashes. An existing
    ``dest`` that verifies is returned without downloading; one that does not is fetched again.
    """
    dest = Path(dest)
    expected = sha256.lower() if sha256 else _recorded(dest)
    if dest.is_file():
        actual = sha256sum(dest)
        if expected is None or actual == expected:
            if expected is None:
                _record_path(dest).write_text(f"{actual}  {dest.name}\n")
            return dest
        dest.unlink()
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    actual = _fetch_part(url, part, resume, progress, timeout)
    if expected is not None and actual != expected:
        part.unlink()
        hint = "" if sha256 else f" (expected from {_record_path(dest)}; delete it to accept a changed upstream file)"
        raise DownloadError(f"sha256 mismatch for {dest} (from {url}): expected {expected}, got {actual}; "
                            f"the file was removed{hint}")  # fmt: skip
    os.replace(part, dest)
    _record_path(dest).write_text(f"{actual}  {dest.name}\n")
    return dest


def _safe_name(name: str) -> bool:
    p = PurePosixPath(name.replace("\\", "/"))
    return bool(p.parts) and not p.is_absolute() and ".." not in p.parts and ":" not in p.parts[0]


def extract(archive: str | Path, out_dir: str | Path) -> Path:
    """Unpack a zip or tar (.tar, .tar.gz, .tgz) archive into ``out_dir`` and return ``out_dir``.

    Every member is checked before anything is written: absolute paths, ``..`` components, drive letters and,
    in tars, links and special files raise :class:`DownloadError` naming the member and the archive.
    """
    archive, out_dir = Path(archive), Path(out_dir)
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                is_link = (info.external_attr >> 16) & 0o170000 == 0o120000
                if not _safe_name(info.filename) or is_link:
                    raise DownloadError(f"{archive}: unsafe member {info.filename!r}; refusing to extract")
            out_dir.mkdir(parents=True, exist_ok=True)
            zf.extractall(out_dir)
        return out_dir
    try:
        tf = tarfile.open(archive, "r:*")
    except (tarfile.TarError, OSError) as exc:
        raise DownloadError(f"{archive}: not a zip or tar archive ({exc})") from None
    with tf:
        members = tf.getmembers()
        for m in members:
            if not _safe_name(m.name) or not (m.isfile() or m.isdir()):
                raise DownloadError(f"{archive}: unsafe member {m.name!r}; refusing to extract")
        out_dir.mkdir(parents=True, exist_ok=True)
        kwargs = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
        tf.extractall(out_dir, members, **kwargs)
    return out_dir


def _say(progress: bool, message: str) -> None:
    if progress:
        log.info(message)


def _fetch_archive(source: Source, out_dir: Path, expect: Sequence[str], downloads: Path, keep: bool,
                   progress: bool, unpack: Callable[[Path, Path], Any] = extract) -> None:
    """Download ``source`` and ``unpack(archive, out_dir)`` it unless a marker says it was done and ``expect``
    exists; the archive is deleted afterwards unless ``keep``."""
    marker = out_dir / f".{source.filename}.done"
    if marker.is_file() and all((out_dir / e).exists() for e in expect):
        _say(progress, f"{source.filename}: already unpacked in {out_dir} (sha256 {marker.read_text().strip()})")
        return
    archive = download(source.url, downloads / source.filename, sha256=source.sha256, progress=progress)
    unpack(archive, out_dir)
    missing = [e for e in expect if not (out_dir / e).exists()]
    if missing:
        raise DownloadError(f"{archive}: unpacked into {out_dir} but {', '.join(missing)} is missing")
    marker.write_text(f"{_recorded(archive)}\n")
    if not keep:
        archive.unlink()


def fetch_coco(root: str | Path, *, include_train: bool = True, keep_archives: bool = False, progress: bool = True,
               sources: Mapping[str, Source] = SOURCES) -> Path:
    """Download COCO 2017 into ``root/coco/{train2017,val2017,annotations}`` plus HRNet's detections
    (``root/coco/person_detection_results/COCO_val2017_detections_AP_H_56_person.json``); returns ``root/coco``.

    Parts already unpacked and verified on an earlier run are skipped. Archives go to ``root/downloads`` and are
    deleted after unpacking unless ``keep_archives``; their ``.sha256`` records stay.
    """
    root = Path(root)
    coco, downloads = root / "coco", root / "downloads"
    parts = [("coco_val2017_images", ["val2017"]),
             ("coco_annotations_trainval2017", ["annotations/person_keypoints_train2017.json",
                                                "annotations/person_keypoints_val2017.json"])]  # fmt: skip
    if include_train:
        parts.append(("coco_train2017_images", ["train2017"]))
    for key, expect in parts:
        _fetch_archive(sources[key], coco, expect, downloads, keep_archives, progress)
    det = sources["coco_val2017_person_detections"]
    path = download(det.url, coco / "person_detection_results" / det.filename, sha256=det.sha256, progress=progress)
    try:
        ok = isinstance(json.loads(path.read_bytes()), list)
    except (json.JSONDecodeError, UnicodeDecodeError):
        ok = False
    if not ok:
        path.unlink()
        _record_path(path).unlink(missing_ok=True)
        raise DownloadError(f"{det.url}: {path.name} is not a JSON list of detections (an HTML page?); download it "
                            f"by hand from HRNet's README links into {path.parent}")  # fmt: skip
    return coco


def fetch_mpii(root: str | Path, *, keep_archives: bool = False, progress: bool = True,
               sources: Mapping[str, Source] = SOURCES) -> Path:
    """Download MPII into ``root/mpii/images`` and HRNet's annotations into ``root/mpii/annot/{train,valid,test}.json``
    and ``gt_valid.mat``; returns ``root/mpii``. Parts already present and verified are skipped."""
    root = Path(root)
    mpii, downloads = root / "mpii", root / "downloads"
    _fetch_archive(sources["mpii_images"], mpii, ["images"], downloads, keep_archives, progress)
    _fetch_archive(sources["mpii_annotations"], mpii / "annot", _MPII_ANNOTATIONS, downloads, keep_archives, progress,
                   unpack=_unpack_mpii_annotations)  # fmt: skip
    return mpii


def _unpack_mpii_annotations(archive: Path, annot: Path) -> None:
    """Unpack the annotation archive beside ``annot`` and move its files into ``annot`` under HRNet's names."""
    tmp = annot.parent / ".annot.partial"
    shutil.rmtree(tmp, ignore_errors=True)
    extract(archive, tmp)
    annot.mkdir(parents=True, exist_ok=True)
    for path in sorted(tmp.rglob("*")):
        if path.name in _MPII_ANNOTATION_NAMES:
            os.replace(path, annot / _MPII_ANNOTATION_NAMES[path.name])
    shutil.rmtree(tmp)
    missing = [n for n in _MPII_ANNOTATIONS if not (annot / n).exists()]
    if missing:
        raise DownloadError(f"{archive}: no {', '.join(missing)} after renaming {', '.join(_MPII_ANNOTATION_NAMES)}")


@dataclass(frozen=True)
class ManualFiles:
    """A dataset whose files have no direct, stable URL (OCHuman and CrowdPose are shared through Google Drive and
    Baidu folders): what goes where under ``ROOT/<name>/``, and where to get it."""

    name: str
    files: tuple[str, ...]
    """Paths under ``ROOT/<name>/`` that must exist (image folders end in ``/``)."""
    where: str


MANUAL: dict[str, ManualFiles] = {
    "ochuman": ManualFiles("ochuman", (
        "annotations/ochuman_coco_format_val_range_0.00_1.00.json",
        "annotations/ochuman_coco_format_test_range_0.00_1.00.json", "images/"),
        "OCHuman (Pose2Seg, CVPR 2019): the images archive and the two COCO-format annotation files linked from "
        "the README of github.com/liruilong940607/OCHumanApi (research use)"),
    "crowdpose": ManualFiles("crowdpose", (
        "annotations/crowdpose_train.json", "annotations/crowdpose_val.json", "annotations/crowdpose_test.json",
        "annotations/det_for_crowd_test_0.1_0.5.json", "images/"),
        "CrowdPose (CVPR 2019): images.zip and the annotation files linked from the README of "
        "github.com/Jeff-sjtu/CrowdPose (research use); the person detections of its test split "
        "(det_for_crowd_test_0.1_0.5.json) from mmpose's CrowdPose dataset page"),
}  # fmt: skip


def fetch_manual(name: str, root: str | Path, *, progress: bool = True) -> Path:
    """Check the hand-downloaded files of dataset ``name`` (:data:`MANUAL`) under ``root/<name>``: each annotation
    file is recorded in ``<file>.sha256`` on first sight and verified against that record afterwards, as
    :func:`download` does. Missing files raise one :class:`DownloadError` naming each, where to get them and where to
    put them. Returns ``root/<name>``."""
    spec = MANUAL[name]
    folder = Path(root) / name
    missing = [f for f in spec.files if not ((folder / f).is_dir() if f.endswith("/") else (folder / f).is_file())]
    if missing:
        raise DownloadError(f"{name}: no direct download URL is known, so the files must be fetched by hand. Missing "
                            f"under {folder}: {', '.join(missing)}. Get them from {spec.where}, and put them at "
                            f"{', '.join(str(folder / f) for f in spec.files)}; then run this command again to record "
                            "their sha256")
    for f in spec.files:
        path = folder / f
        if f.endswith("/"):
            continue
        digest, recorded = sha256sum(path), _recorded(path)
        if recorded is None:
            _record_path(path).write_text(f"{digest}  {path.name}\n")
        elif recorded != digest:
            raise DownloadError(f"{path}: sha256 {digest} differs from the recorded {recorded} "
                                f"({_record_path(path)}); the file changed since it was first checked")
        _say(progress, f"{path}: sha256 {digest}")
    return folder
