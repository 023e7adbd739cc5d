"""Downloading, extraction, integrity records and dataset status, against a loopback HTTP server."""

from __future__ import annotations

import hashlib
import io
import tarfile
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
import yaml

from vadlib import cli
from vadlib.data import download, manifests, status as status_module
from vadlib.data.errors import DatasetError
from vadlib.data.integrity import write_record

# ---------------------------------------------------------------- a tiny HTTP server with Range


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):  # keep pytest output clean
        pass

    def do_GET(self):
        server = self.server
        body = server.files.get(self.path.lstrip("/"))
        server.requests.append((self.path, self.headers.get("Range")))
        if body is None:
            self.send_error(404)
            return
        start = 0
        ranged = self.headers.get("Range")
        if ranged and server.honour_range:
            start = int(ranged.split("=")[1].split("-")[0])
            if start >= len(body):
                self.send_response(416)
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            self.send_response(200)
        payload = body[start:]
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if server.drop_after is not None or server.drop_every is not None:
            # simulate a connection lost mid-transfer: once (drop_after) or on every request
            cut = server.drop_every if server.drop_every is not None else server.drop_after
            server.drop_after = None
            self.wfile.write(payload[:cut])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(payload)


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.files, httpd.requests, httpd.drop_after, httpd.honour_range = {}, [], None, True
    httpd.drop_every = None
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def _tar(members: dict[str, bytes], links: dict[str, str] | None = None, hard: bool = False) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as bundle:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            bundle.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type = tarfile.LNKTYPE if hard else tarfile.SYMTYPE
            info.linkname = target
            bundle.addfile(info)
    return buffer.getvalue()


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        for name, data in members.items():
            bundle.writestr(name, data)
    return buffer.getvalue()


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


TOY_FILES = {f"Toy/train/{i:02d}.txt": f"train {i}\n".encode() * 200 for i in range(3)}
TOY_FILES.update({f"Toy/test/{i:02d}.txt": f"test {i}\n".encode() * 200 for i in range(2)})


@pytest.fixture
def toy_manifest(tmp_path, monkeypatch, server):
    """A manifest directory holding one direct-access dataset 'toy' served by ``server``."""
    archive = _tar(TOY_FILES)
    server.files["toy.tar.gz"] = archive
    directory = tmp_path / "manifests"
    directory.mkdir()
    raw = {
        "name": "toy", "title": "Toy set", "papers": ["C"], "homepage": server.url,
        "licence": "CC0", "access": "direct", "directory": "toy",
        "files": [{"name": "toy.tar.gz", "url": f"{server.url}/toy.tar.gz", "sha256": _sha(archive),
                   "size": len(archive), "extract": True, "strip": 1}],
        "layouts": {"plain": [{"pattern": "train/*.txt", "count": 3, "what": "training files"},
                              {"pattern": "test/*.txt", "count": 2, "what": "test files"}]},
        "layout_tree": "toy/\n  train/00.txt ...\n  test/00.txt ...\n",
        "splits": "train / test", "citation": "@misc{toy, title={Toy}}", "synthetic": False,
    }
    (directory / "toy.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    monkeypatch.setattr(manifests, "MANIFEST_DIR", directory)
    return directory, raw, archive


# ---------------------------------------------------------------- downloads


def _entry(server, name, data, sha=None):
    server.files[name] = data
    return manifests.FileEntry(name=name, url=f"{server.url}/{name}", sha256=sha or _sha(data))


def test_download_checks_sha256_and_skips_a_second_transfer(server, tmp_path):
    entry = _entry(server, "a.bin", b"x" * 5000)
    path = download.download(entry, tmp_path / "dl", progressbar=False)
    assert path.read_bytes() == b"x" * 5000
    count = len(server.requests)
    assert download.download(entry, tmp_path / "dl", progressbar=False) == path
    assert len(server.requests) == count  # present with the right hash: not fetched again


def test_checksum_mismatch_is_rejected_and_nothing_is_kept(server, tmp_path):
    entry = _entry(server, "b.bin", b"payload" * 100, sha="0" * 64)
    with pytest.raises(ValueError, match="hash"):
        download.download(entry, tmp_path / "dl", progressbar=False)
    assert list((tmp_path / "dl").iterdir()) == []


def test_interrupted_download_resumes_with_a_range_request(server, tmp_path):
    data = bytes(range(256)) * 400
    entry = _entry(server, "c.bin", data)
    server.drop_after = 30000
    with pytest.raises(requests.RequestException):
        download.download(entry, tmp_path / "dl", progressbar=False, retries=0)
    part = tmp_path / "dl" / "c.bin.part"
    kept = part.stat().st_size
    assert 0 < kept <= 30000 and part.read_bytes() == data[:kept]
    path = download.download(entry, tmp_path / "dl", progressbar=False, retries=0)
    assert path.read_bytes() == data
    assert server.requests[-1] == ("/c.bin", f"bytes={kept}-")
    assert not part.exists()


def test_download_retries_and_resumes_within_one_call(server, tmp_path):
    data = b"0123456789" * 3000
    entry = _entry(server, "d.bin", data)
    server.drop_after = 20000
    path = download.download(entry, tmp_path / "dl", progressbar=False, retries=2)
    assert path.read_bytes() == data
    first, second = [r for _, r in server.requests]
    assert first is None and second.startswith("bytes=")  # the second request resumed


def test_server_ignoring_range_restarts_from_zero(server, tmp_path):
    data = b"abc" * 5000
    entry = _entry(server, "e.bin", data)
    server.honour_range = False
    server.drop_after = 2000
    path = download.download(entry, tmp_path / "dl", progressbar=False, retries=1)
    assert path.read_bytes() == data


def test_missing_url_raises_http_error(server, tmp_path):
    entry = manifests.FileEntry(name="gone.bin", url=f"{server.url}/gone.bin", sha256=None)
    with pytest.raises(requests.HTTPError):
        download.download(entry, tmp_path / "dl", progressbar=False, retries=0)


# ---------------------------------------------------------------- extraction


def _write(tmp_path, name, data) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_safe_extract_strips_and_merges(tmp_path):
    archive = _write(tmp_path, "ok.tar.gz", _tar(TOY_FILES))
    target = tmp_path / "out"
    safe_extract = download.safe_extract
    safe_extract(archive, target, strip=1)
    assert sorted(p.relative_to(target).as_posix() for p in target.rglob("*.txt")) == sorted(
        name.removeprefix("Toy/") for name in TOY_FILES)
    second = _write(tmp_path, "more.zip", _zip({"Toy/test/99.txt": b"late"}))
    safe_extract(second, target, strip=1)  # a second archive merges into the same tree
    assert (target / "test" / "99.txt").read_bytes() == b"late"
    assert (target / "train" / "00.txt").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".extract-")]


@pytest.mark.parametrize("archive_bytes, reason", [
    (_tar({"../evil.txt": b"x"}), "climbs out"),
    (_tar({"/tmp/evil.txt": b"x"}), "absolute"),
    (_tar({"ok.txt": b"x"}, links={"link": "../../etc/passwd"}), "outside"),
    (_tar({"ok.txt": b"x"}, links={"link": "/etc/passwd"}), "outside"),
    (_tar({"ok.txt": b"x"}, links={"hard": "../outside"}, hard=True), "outside"),
    (_zip({"../../evil.txt": b"x"}), "climbs out"),
    (_zip({"C:/evil.txt": b"x"}), "absolute"),
])
def test_unsafe_archives_are_refused_whole(tmp_path, archive_bytes, reason):
    archive = _write(tmp_path, "bad.archive", archive_bytes)
    target = tmp_path / "deep" / "out"
    with pytest.raises(download.UnsafeArchiveError, match=reason):
        download.safe_extract(archive, target)
    assert not any(target.iterdir())
    assert not (tmp_path / "deep" / "evil.txt").exists() and not (tmp_path / "evil.txt").exists()


def test_links_inside_the_target_are_allowed(tmp_path):
    archive = _write(tmp_path, "links.tar.gz", _tar({"dir/a.txt": b"a"}, links={"dir/b.txt": "a.txt"}))
    download.safe_extract(archive, tmp_path / "out")
    assert (tmp_path / "out" / "dir" / "b.txt").read_bytes() == b"a"


# ---------------------------------------------------------------- fetch + status end to end


def test_fetch_then_status_present_and_corruption_detected(toy_manifest, server, tmp_path):
    manifest = manifests.load_manifest("toy")
    root = tmp_path / "data"
    target = download.fetch(manifest, root, progressbar=False)
    assert target == root / "toy"
    assert status_module.status("toy", root).state == "present"
    assert not (root / "downloads" / "toy.tar.gz").exists()  # archive removed after extraction
    assert status_module.require("toy", root) == target
    (target / "train" / "01.txt").write_bytes(b"tampered, same length?")
    assert status_module.status("toy", root).state == "corrupt"
    (target / "train" / "01.txt").write_bytes(TOY_FILES["Toy/train/01.txt"][:-1] + b"X")
    assert status_module.status("toy", root).state == "present"  # same size: only verify sees it
    deep = status_module.status("toy", root, deep=True)
    assert deep.state == "corrupt" and "sha256" in deep.details[0]


def test_status_states_and_errors(toy_manifest, tmp_path):
    root = tmp_path / "data"
    assert status_module.status("toy", root).state == "missing"
    with pytest.raises(DatasetError, match=r"(?s)toy: dataset directory is missing.*vadlib data status toy"):
        status_module.require("toy", root)
    (root / "toy" / "images").mkdir(parents=True)
    (root / "toy" / "images" / "x.png").write_bytes(b"")
    wrong = status_module.status("toy", root)
    assert wrong.state == "wrong layout" and "no training files (train/*.txt)" in wrong.details[0]
    with pytest.raises(DatasetError, match=r"(?s)wrong layout.*expected layout:.*train/00.txt"):
        status_module.require("toy", root)
    for name in ("train/00.txt", "test/00.txt"):
        (root / "toy" / name).parent.mkdir(exist_ok=True)
        (root / "toy" / name).write_text("x")
    partial = status_module.status("toy", root)
    assert partial.state == "incomplete" and "1 of 3 training files" in partial.details[0]
    with pytest.warns(UserWarning, match="incomplete"):
        status_module.require("toy", root)
    write_record(root / "toy", "synthetic", size="tiny", seed=0)
    assert status_module.status("toy", root).state == "synthetic twin"


def test_cli_data_commands(toy_manifest, server, tmp_path, capsys):
    directory, raw, _ = toy_manifest
    raw_gated = dict(raw, name="gated", access="registration", files=[], directory="gated",
                     steps="1. Register at the homepage.\n2. Unpack into <data root>/gated.\n")
    (directory / "gated.yaml").write_text(yaml.safe_dump(raw_gated, sort_keys=False))
    root = str(tmp_path / "data")
    assert cli.main(["data", "list"]) == 0
    listing = capsys.readouterr().out
    assert "toy" in listing and "registration" in listing
    assert cli.main(["data", "status", "--root", root]) == 1
    assert "missing" in capsys.readouterr().out
    assert cli.main(["data", "fetch", "gated", "--root", root]) == 1
    steps = capsys.readouterr().out
    assert "Register at the homepage" in steps and "vadlib data status gated" in steps
    assert cli.main(["data", "fetch", "toy", "--root", root]) == 0
    assert "present" in capsys.readouterr().out
    assert cli.main(["data", "verify", "toy", "--root", root]) == 0
    assert "every recorded sha256 agrees" in capsys.readouterr().out
    with pytest.raises(SystemExit) as stop:
        cli.main(["data", "verify", "nope", "--root", root])
    assert stop.value.code == 2
    assert "no dataset named 'nope'" in capsys.readouterr().err


# ---------------------------------------------------------------- bombs, link chains, broken servers

BOMB_BYTES = 32 << 20  # zeros: deflate packs them about a thousand to one


def _zip_bomb() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        bundle.writestr("Bomb/zeros.bin", bytes(BOMB_BYTES))
    return buffer.getvalue()


def _tar_bomb() -> bytes:
    return _tar({"Bomb/zeros.bin": bytes(BOMB_BYTES)})


def _leftovers(tmp_path: Path) -> list[Path]:
    return [p for p in tmp_path.rglob("*") if p.name.startswith(".extract-") or p.name == "zeros.bin"]


@pytest.mark.parametrize("make", [_zip_bomb, _tar_bomb], ids=["zip", "tar.gz"])
def test_bomb_is_refused_from_its_headers(tmp_path, make):
    data = make()
    assert len(data) * download.DEFAULT_MAX_RATIO < BOMB_BYTES  # a bomb by the default ratio
    archive = _write(tmp_path, "bomb.archive", data)
    target = tmp_path / "out"
    with pytest.raises(download.ArchiveTooLargeError, match="declares 32.0 MiB") as caught:
        download.safe_extract(archive, target)
    assert "\n" not in str(caught.value) and "bomb.archive" in str(caught.value)
    assert not any(target.iterdir()) and not _leftovers(tmp_path)


@pytest.mark.parametrize("make", [_zip_bomb, _tar_bomb], ids=["zip", "tar.gz"])
def test_bytes_are_counted_while_extracting_when_headers_lie(tmp_path, monkeypatch, make):
    """With the header check disabled (as if the headers understated the content), the byte
    count during extraction still stops the archive at its limit."""
    monkeypatch.setattr(download, "_check_declared", lambda *args: None)
    archive = _write(tmp_path, "bomb.archive", make())
    target = tmp_path / "out"
    limits = download.ExtractionLimits(max_bytes=1 << 20, max_ratio=None)
    with pytest.raises(download.ArchiveTooLargeError, match="reached at member 'Bomb/zeros.bin'"):
        download.safe_extract(archive, target, limits=limits)
    assert not any(target.iterdir()) and not _leftovers(tmp_path)


def test_limits_come_from_the_manifest_declared_sizes(tmp_path):
    content = {"Toy/a.bin": b"a" * 6000, "Toy/b.bin": b"b" * 4000}
    archive = _write(tmp_path, "toy.zip", _zip(content))
    declared = manifests.FileEntry(name="toy.zip", url="http://127.0.0.1/toy.zip", unpacked_size=9999)
    with pytest.raises(download.ArchiveTooLargeError, match="declares 9.8 KiB"):
        download.safe_extract(archive, tmp_path / "small", limits=download.ExtractionLimits.for_entry(
            declared, archive))
    exact = manifests.FileEntry(name="toy.zip", url="http://127.0.0.1/toy.zip", unpacked_size=10000)
    download.safe_extract(archive, tmp_path / "exact", strip=1,
                          limits=download.ExtractionLimits.for_entry(exact, archive))
    assert (tmp_path / "exact" / "a.bin").read_bytes() == content["Toy/a.bin"]
    # without unpacked_size: the default ratio times the declared archive size
    sized = manifests.FileEntry(name="toy.zip", url="http://127.0.0.1/toy.zip", size=99)
    limits = download.ExtractionLimits.for_entry(sized, archive)
    assert limits.allowed(archive) == int(download.DEFAULT_MAX_RATIO * 99) < 10000
    with pytest.raises(download.ArchiveTooLargeError, match="100 times the archive's 99 bytes"):
        download.safe_extract(archive, tmp_path / "ratio", limits=limits)


def test_tar_symlink_chain_is_refused_by_the_data_filter(tmp_path):
    """Each link stays inside when read alone (``here -> .``, ``here/up -> ..`` is ``./..`` =
    ``.``), but followed in order ``here/up`` leads to the parent: only resolving links as they
    are written, as tarfile's data filter does, sees it."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as bundle:
        for name, target in (("here", "."), ("here/up", "..")):
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, target
            bundle.addfile(info)
        payload = tarfile.TarInfo("here/up/escaped.txt")
        payload.size = 7
        bundle.addfile(payload, io.BytesIO(b"escaped"))
    archive = _write(tmp_path, "chain.tar.gz", buffer.getvalue())
    target = tmp_path / "deep" / "out"
    download.check_archive(archive, target)  # the member-by-member check alone lets it pass
    with pytest.raises(download.UnsafeArchiveError, match="here/up.*outside the destination") as caught:
        download.safe_extract(archive, target)
    assert "\n" not in str(caught.value) and str(caught.value).startswith("chain.tar.gz: ")
    assert not list(tmp_path.rglob("escaped.txt")) and not any(target.iterdir())


def _serve_dataset(directory: Path, raw: dict, server, name: str, archive_name: str, data: bytes,
                   **entry) -> None:
    """Add dataset ``name`` to the manifest directory, its one archive served by ``server``."""
    server.files[archive_name] = data
    manifest = dict(raw, name=name, directory=name, files=[
        {"name": archive_name, "url": f"{server.url}/{archive_name}", "sha256": _sha(data),
         "size": len(data), "extract": True, "strip": 1, **entry}])
    (directory / f"{name}.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False))


def _the_error_line(stderr: str) -> str:
    """The one error line of the command's stderr, which also carries pooch's "Downloading data
    from" notice and the progress bar (redrawn with carriage returns)."""
    assert "Traceback" not in stderr
    assert stderr.endswith("\n")
    errors = [line for line in stderr.replace("\r", "\n").splitlines() if "error" in line]
    assert len(errors) == 1, stderr
    return errors[0]


def test_fetching_a_bomb_prints_one_line(toy_manifest, server, tmp_path, capsys):
    directory, raw, _ = toy_manifest
    _serve_dataset(directory, raw, server, "bomb", "bomb.zip", _zip_bomb())
    root = tmp_path / "data"
    with pytest.raises(SystemExit) as stop:
        cli.main(["data", "fetch", "bomb", "--root", str(root)])
    assert stop.value.code == 1
    archive = root / "downloads" / "bomb.zip"
    error = _the_error_line(capsys.readouterr().err)
    assert error.startswith(f"vadlib: error: bomb: {archive}: refused to unpack: bomb.zip declares 32.0 MiB")
    assert archive.is_file()  # kept for inspection; nothing unpacked
    assert not (root / "bomb").exists() or not any((root / "bomb").iterdir())


def test_server_that_keeps_cutting_ends_in_one_line(toy_manifest, server, tmp_path, capsys):
    _, _, archive = toy_manifest
    server.drop_every = 8  # every response breaks off after 8 bytes, resumed or not
    retries = 2
    assert len(archive) > 8 * (retries + 1)
    manifest = manifests.load_manifest("toy")
    with pytest.raises(download.DownloadError) as caught:
        download.fetch(manifest, tmp_path / "data", progressbar=False, retries=retries)
    url = f"{server.url}/toy.tar.gz"
    assert caught.value.dataset == "toy" and caught.value.url == url
    assert f"gave up after {retries + 1} attempts" in caught.value.summary
    assert [path for path, _ in server.requests] == ["/toy.tar.gz"] * (retries + 1)
    with pytest.raises(SystemExit) as stop:
        cli.main(["data", "fetch", "toy", "--root", str(tmp_path / "data")])
    assert stop.value.code == 1
    assert _the_error_line(capsys.readouterr().err).startswith(f"vadlib: error: toy: cannot download {url}: ")


def test_missing_file_on_the_server_is_one_clear_error(toy_manifest, server, tmp_path):
    del server.files["toy.tar.gz"]
    with pytest.raises(download.DownloadError, match=r"toy: cannot download http://\S+/toy.tar.gz: "
                                                     r"404 Client Error") as caught:
        download.fetch(manifests.load_manifest("toy"), tmp_path / "data", progressbar=False)
    assert "attempts" not in caught.value.summary and len(server.requests) == 1  # not retried
