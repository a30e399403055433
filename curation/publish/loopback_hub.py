"""A loopback Hugging Face Hub on 127.0.0.1, for tests and for trying `curation publish` without an account.

It speaks the endpoints `huggingface_hub` calls to publish a dataset (read from its source, version 1.x):
repository creation (POST /api/repos/create), the README's metadata check (POST /api/validate-yaml), the
upload modes (POST /api/<type>s/<repo>/preupload/<revision>), Git LFS (POST /<type>s/<repo>.git/info/lfs/objects/batch,
then a PUT of each object and its verify call), the commit (POST /api/<type>s/<repo>/commit/<revision>, NDJSON),
and enough to read back: the repository's info, its file tree and its commits. Files the Hub keeps in LFS
(parquet, arrow, anything over 10 MiB) are sent through the LFS path, the rest inline in the commit, as on the Hub.

Each repository's latest files are written out under `storage/<type>s/<org>/<name>/`, so `datasets.load_dataset`
reads what was received from that folder. Every commit is kept (its files by content hash), so an earlier commit
can be read too. The client must upload through LFS, not Xet (which needs a storage service of its own):
set HF_HUB_DISABLE_XET=1 before huggingface_hub is imported.

With `token`, a request without that bearer token gets 401. The token is compared, never stored or logged.

By hand:

    python -m curation.publish.loopback_hub --storage /tmp/hub      # serves until Ctrl-C; prints the lines below
    export HF_ENDPOINT=http://127.0.0.1:PORT HF_HUB_DISABLE_XET=1 HF_TOKEN=loopback
    curation publish out/arena_v0 --org somosnlp-hackathon-2026
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import re
import shutil
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Self

import yaml

LFS_SUFFIXES = (".parquet", ".arrow", ".bin", ".safetensors", ".gz", ".zip")
REGULAR_MAX_BYTES = 10 * 1024 * 1024  # the Hub sends larger files through LFS whatever their type
GITATTRIBUTES = "".join(f"*{suffix} filter=lfs diff=lfs merge=lfs -text\n" for suffix in LFS_SUFFIXES)
REPO_TYPES = ("model", "dataset", "space")
# /api/datasets/org/name/<action>/<revision>; model repositories have no prefix
API_PATH = re.compile(r"^/api/(?:(?P<type>datasets|spaces|models)/)?(?P<repo>[^/]+/[^/]+)(?:/(?P<action>[a-z]+)(?:/(?P<rest>.*))?)?$")
LFS_BATCH = re.compile(r"^/(?:(?P<type>datasets|spaces)/)?(?P<repo>[^/]+/[^/]+)\.git/info/lfs/objects/batch$")


def git_blob_oid(content: bytes) -> str:
    """The oid git gives a file's content (what the Hub reports for a regular file)."""
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


def is_lfs(path: str, size: int) -> bool:
    return path.endswith(LFS_SUFFIXES) or size > REGULAR_MAX_BYTES


@dataclass
class Commit:
    oid: str
    title: str
    message: str
    date: str
    files: dict[str, str]  # path -> sha256 of its content, in the object store


@dataclass
class Repo:
    repo_type: str
    repo_id: str
    private: bool
    commits: list[Commit] = field(default_factory=list)

    @property
    def files(self) -> dict[str, str]:
        return self.commits[-1].files if self.commits else {}


class LoopbackHub:
    """Start with `with LoopbackHub(storage) as hub:`; point the client at `hub.endpoint`."""

    def __init__(self, storage: Path, token: str | None = None, port: int = 0):
        self.storage = Path(storage)
        self.objects = self.storage / ".objects"  # every file received, by the sha256 of its content
        self.objects.mkdir(parents=True, exist_ok=True)
        self.token = token
        self.repos: dict[tuple[str, str], Repo] = {}
        self.requests: list[tuple[str, str]] = []  # (method, path) of every request, in order
        self.lfs_uploads: list[str] = []  # sha256 of every object received through LFS
        self.granted: set[str] = set()  # objects a batch call allowed to be uploaded
        self.authorized = 0  # requests that carried the expected token
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    def repo(self, repo_id: str, repo_type: str = "dataset") -> Repo:
        return self.repos[(repo_type, repo_id)]

    def folder(self, repo_id: str, repo_type: str = "dataset") -> Path:
        """Where the repository's latest files are written out."""
        return self.storage / f"{repo_type}s" / repo_id

    def read(self, repo_id: str, path: str, commit: int = -1, repo_type: str = "dataset") -> bytes:
        """A file as a commit (the latest by default) holds it."""
        return (self.objects / self.repo(repo_id, repo_type).commits[commit].files[path]).read_bytes()

    # -- the repository operations -------------------------------------------------------------------

    def create(self, repo_type: str, repo_id: str, private: bool) -> bool:
        """False when it exists already; a new repository starts with the Hub's initial commit."""
        with self._lock:
            if (repo_type, repo_id) in self.repos:
                return False
            repo = self.repos[(repo_type, repo_id)] = Repo(repo_type, repo_id, private)
            self._commit(repo, "initial commit", "", {".gitattributes": GITATTRIBUTES.encode()}, [])
            return True

    def store(self, content: bytes) -> str:
        digest = hashlib.sha256(content).hexdigest()
        (self.objects / digest).write_bytes(content)
        return digest

    def _commit(self, repo: Repo, title: str, message: str, added: dict[str, bytes | str], deleted: list[str]) -> Commit:
        """A new commit on main: `added` maps a path to its content, or to the sha256 of an object received by LFS."""
        files = dict(repo.files)
        for path in deleted:
            for existing in [name for name in files if name == path or name.startswith(path.rstrip("/") + "/")]:
                del files[existing]
        for path, content in added.items():
            files[path] = self.store(content) if isinstance(content, bytes) else content
        parent = repo.commits[-1].oid if repo.commits else ""
        oid = hashlib.sha1(json.dumps([parent, title, sorted(files.items())]).encode()).hexdigest()
        commit = Commit(oid, title, message, time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()), files)
        repo.commits.append(commit)
        self._write_out(repo)
        return commit

    def _write_out(self, repo: Repo) -> None:
        folder = self.folder(repo.repo_id, repo.repo_type)
        shutil.rmtree(folder, ignore_errors=True)
        for path, digest in repo.files.items():
            target = folder / path
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(self.objects / digest, target)

    def _oid(self, repo: Repo, path: str) -> str | None:
        """The oid the Hub reports for a file: sha256 for LFS files, git's blob oid for the others."""
        digest = repo.files.get(path)
        if digest is None:
            return None
        content = (self.objects / digest).read_bytes()
        return digest if is_lfs(path, len(content)) else git_blob_oid(content)

    # -- HTTP ----------------------------------------------------------------------------------------

    def _handler(self):
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # quiet: a test's output is its own
                pass

            def do_GET(self) -> None:
                self._serve("GET")

            def do_POST(self) -> None:
                self._serve("POST")

            def do_PUT(self) -> None:
                self._serve("PUT")

            def _serve(self, method: str) -> None:
                path = self.path.split("?", 1)[0]
                with hub._lock:
                    hub.requests.append((method, path))
                # An LFS upload goes to the URL the batch call granted, without the token (as to S3's signed URLs).
                granted = method == "PUT" and path.removeprefix("/lfs/") in hub.granted
                if hub.token is not None and not granted:
                    if self.headers.get("Authorization") != f"Bearer {hub.token}":
                        self._drain()
                        return self._json(401, {"error": "Invalid credentials in Authorization header"})
                    with hub._lock:
                        hub.authorized += 1
                try:
                    status, body = hub._route(method, path, self._body())
                except HubError as error:
                    status, body = error.status, {"error": str(error)}
                except (ValueError, KeyError, TypeError) as error:  # a request the real Hub would refuse too
                    status, body = 400, {"error": f"malformed request: {type(error).__name__}: {error}"}
                self._json(status, body)

            def _body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    chunks = []
                    while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()
                    self.rfile.readline()
                    return b"".join(chunks)
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def _drain(self) -> None:
                self._body()

            def _json(self, status: int, body) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler

    def _route(self, method: str, path: str, body: bytes) -> tuple[int, object]:
        if method == "POST" and path == "/api/repos/create":
            return self._create(json.loads(body))
        if method == "POST" and path == "/api/validate-yaml":
            return self._validate_yaml(json.loads(body))
        if method == "PUT" and path.startswith("/lfs/"):
            return self._lfs_put(path.removeprefix("/lfs/"), body)
        if method == "POST" and path == "/lfs-verify":
            request = json.loads(body)
            stored = self.objects / request["oid"]
            if not stored.is_file() or stored.stat().st_size != request["size"]:
                raise HubError(404, f"object {request['oid']} not found")
            return 200, {}
        if method == "POST" and (batch := LFS_BATCH.match(path)):
            return self._lfs_batch(self._find(batch["type"], batch["repo"]), json.loads(body))
        if api := API_PATH.match(path):
            repo = self._find(api["type"], api["repo"])
            action = api["action"]
            if method == "POST" and action == "preupload":
                return self._preupload(repo, json.loads(body))
            if method == "POST" and action == "commit":
                return self._commit_ndjson(repo, body)
            if method == "GET" and action in (None, "revision"):
                return 200, self._info(repo)
            if method == "GET" and action == "tree":
                return 200, [{"type": "file", "path": name, "oid": self._oid(repo, name),
                              "size": (self.objects / digest).stat().st_size} for name, digest in sorted(repo.files.items())]
            if method == "GET" and action == "commits":
                return 200, [{"id": commit.oid, "title": commit.title, "message": commit.message, "date": commit.date,
                              "authors": [{"user": "loopback"}]} for commit in reversed(repo.commits)]
        raise HubError(404, f"the loopback hub does not serve {method} {path}")

    def _find(self, prefix: str | None, repo_id: str) -> Repo:
        repo_type = (prefix or "models").removesuffix("s")
        found = self.repos.get((repo_type, repo_id))
        if found is None:
            raise HubError(404, f"Repository not found: {repo_type} {repo_id}")
        return found

    def _create(self, request: dict) -> tuple[int, object]:
        repo_type = request.get("type") or "model"
        if repo_type not in REPO_TYPES:
            raise HubError(400, f"unknown repository type {repo_type!r}")
        repo_id = f"{request['organization']}/{request['name']}" if request.get("organization") else request["name"]
        url = f"{self.endpoint}/{'' if repo_type == 'model' else repo_type + 's/'}{repo_id}"
        if not self.create(repo_type, repo_id, request.get("visibility") == "private"):
            return 409, {"error": f"You already created this {repo_type} repo", "url": url}
        return 200, {"url": url, "name": repo_id}

    def _validate_yaml(self, request: dict) -> tuple[int, object]:
        content = request.get("content", "")
        match = re.match(r"^---\n(.*?)\n---\n", content, flags=re.DOTALL)
        try:
            metadata = yaml.safe_load(match.group(1)) if match else None
        except yaml.YAMLError as error:
            return 400, {"errors": [{"message": f"invalid YAML: {error}"}], "warnings": []}
        if not isinstance(metadata, dict):
            return 200, {"errors": [], "warnings": [{"message": "empty or missing yaml metadata in repo card"}]}
        return 200, {"errors": [], "warnings": []}

    def _preupload(self, repo: Repo, request: dict) -> tuple[int, object]:
        return 200, {"files": [{"path": file["path"], "uploadMode": "lfs" if is_lfs(file["path"], file["size"]) else "regular",
                                "shouldIgnore": False, "oid": self._oid(repo, file["path"])} for file in request["files"]]}

    def _lfs_batch(self, repo: Repo, request: dict) -> tuple[int, object]:
        if request.get("operation") != "upload" or "basic" not in request.get("transfers", ["basic"]):
            raise HubError(400, "the loopback hub takes LFS uploads through the basic transfer only")
        objects = []
        for item in request["objects"]:
            answer = {"oid": item["oid"], "size": item["size"], "authenticated": True}
            if not (self.objects / item["oid"]).is_file():  # an object already stored needs no upload
                with self._lock:
                    self.granted.add(item["oid"])
                answer["actions"] = {"upload": {"href": f"{self.endpoint}/lfs/{item['oid']}"},
                                     "verify": {"href": f"{self.endpoint}/lfs-verify"}}
            objects.append(answer)
        return 200, {"transfer": "basic", "objects": objects}

    def _lfs_put(self, oid: str, content: bytes) -> tuple[int, object]:
        if oid not in self.granted:
            raise HubError(403, f"no batch call granted the upload of {oid}")
        if hashlib.sha256(content).hexdigest() != oid:
            raise HubError(400, f"the content received does not match the oid {oid}")
        self.store(content)
        with self._lock:
            self.lfs_uploads.append(oid)
        return 200, {}

    def _commit_ndjson(self, repo: Repo, body: bytes) -> tuple[int, object]:
        lines = [json.loads(line) for line in body.splitlines() if line.strip()]
        if not lines or lines[0].get("key") != "header":
            raise HubError(400, "a commit starts with its header line")
        header, added, deleted = lines[0]["value"], {}, []
        for line in lines[1:]:
            value = line["value"]
            if line["key"] == "file":
                added[value["path"]] = base64.b64decode(value["content"])
            elif line["key"] == "lfsFile":
                if not (self.objects / value["oid"]).is_file():
                    raise HubError(400, f"LFS object {value['oid']} of {value['path']} was never uploaded")
                added[value["path"]] = value["oid"]
            elif line["key"] in ("deletedFile", "deletedFolder"):
                if not any(name == value["path"] or name.startswith(value["path"].rstrip("/") + "/") for name in repo.files):
                    raise HubError(404, f"A file with this name doesn't exist: {value['path']}")
                deleted.append(value["path"])
            else:
                raise HubError(400, f"the loopback hub does not take {line['key']!r} operations")
        with self._lock:
            if header.get("parentCommit") and header["parentCommit"] != repo.commits[-1].oid:
                raise HubError(412, "the parent commit is not the head of main")
            commit = self._commit(repo, header["summary"], header.get("description", ""), added, deleted)
        url = f"{self.endpoint}/{'' if repo.repo_type == 'model' else repo.repo_type + 's/'}{repo.repo_id}"
        return 200, {"commitUrl": f"{url}/commit/{commit.oid}", "commitOid": commit.oid, "pullRequestUrl": None}

    def _info(self, repo: Repo) -> dict:
        return {"id": repo.repo_id, "sha": repo.commits[-1].oid, "private": repo.private,
                "siblings": [{"rfilename": name} for name in sorted(repo.files)]}


class HubError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--storage", type=Path, required=True, help="Where the received repositories are written.")
    parser.add_argument("--port", type=int, default=0, help="0 takes a free port.")
    parser.add_argument("--token", help="Refuse requests without this bearer token.")
    arguments = parser.parse_args()
    with LoopbackHub(arguments.storage, arguments.token, arguments.port) as hub:
        print(f"export HF_ENDPOINT={hub.endpoint} HF_HUB_DISABLE_XET=1", flush=True)
        print(f"received repositories are written under {arguments.storage}", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
