"""The local endpoint of an offline OpenSearch Serverless collection (for ``opensearch-py``).

Introduced in the knowledge-base lab. Each collection gets an HTTP server on 127.0.0.1 and a
free port (``http.server`` in a daemon thread, started when its endpoint is first asked for,
stopped when the collection is deleted or the offline account reset). It answers the part
of the OpenSearch REST API labs use: create / get / delete an index (``knn_vector``
mappings), index / get / delete a document, ``_bulk`` (NDJSON), ``_search`` (the DSL of
:mod:`.engine`), ``_refresh`` and ``_count``.

Requests must be signed with SigV4 for service ``aoss`` (``opensearch-py``'s
``AWSV4SignerAuth(credentials, region, "aoss")``): the credential scope is checked, the
signature itself is not (offline credentials are fake). The caller's principal (from the
access key, through the offline STS) must be allowed by the collection's network and data
access policies, or the answer is 403 as on AWS. Differences from AWS: plain HTTP instead of
HTTPS, and writes are visible at once (AWS's vector collections refresh within seconds).
"""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from mllab.offline.opensearchserverless import service
from mllab.offline.opensearchserverless.engine import QueryError, SearchIndex

_LOCK = threading.Lock()
_SERVERS: dict[str, tuple[ThreadingHTTPServer, threading.Thread]] = {}
_PRINCIPALS: dict[str, str] = {}


def endpoint_for(account_id: str, col: service.Collection) -> str:
    """The collection's endpoint URL, starting its local server on first use."""
    with _LOCK:
        if col.id not in _SERVERS:
            handler = type("Handler", (_Handler,), {"account_id": account_id, "col": col})
            srv = ThreadingHTTPServer(("127.0.0.1", 0), handler)
            srv.daemon_threads = True
            t = threading.Thread(target=srv.serve_forever, name=f"aoss-{col.name}", daemon=True)
            t.start()
            _SERVERS[col.id] = (srv, t)
        port = _SERVERS[col.id][0].server_address[1]
    return f"http://127.0.0.1:{port}"


def stop(collection_id: str) -> None:
    """Stop one collection's server (no-op when it never started)."""
    with _LOCK:
        entry = _SERVERS.pop(collection_id, None)
    if entry:
        entry[0].shutdown()
        entry[0].server_close()


def stop_all() -> None:
    """Stop every collection server (the offline account is being reset)."""
    for cid in list(_SERVERS):
        stop(cid)
    _PRINCIPALS.clear()


def _principal(account_id: str, access_key: str) -> str:
    """The IAM principal of an access key, as offline STS sees it (cached)."""
    if access_key not in _PRINCIPALS:
        arn = f"arn:aws:iam::{account_id}:root"
        try:
            from moto.sts.models import sts_backends

            backend = sts_backends[account_id]["global"]
            for role in backend.assumed_roles:
                if role.access_key_id == access_key:
                    arn = role.role_arn
        except Exception:  # noqa: BLE001 - unknown key: the account's root identity
            pass
        _PRINCIPALS[access_key] = arn
    return _PRINCIPALS[access_key]


_SCOPE = re.compile(r"Credential=([^/]+)/\d{8}/([^/]+)/([^/]+)/aws4_request")


class _Handler(BaseHTTPRequestHandler):
    account_id: str
    col: service.Collection
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass

    # ------------------------------------------------------------------ plumbing
    def _send(self, status: int, body: Any = None, head: bool = False) -> None:
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if not head:
            self.wfile.write(data)

    def _error(self, status: int, kind: str, reason: str) -> None:
        self._send(
            status,
            {
                "error": {
                    "root_cause": [{"type": kind, "reason": reason}],
                    "type": kind,
                    "reason": reason,
                },
                "status": status,
            },
        )

    def _body(self) -> bytes:
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def _auth(self, index: str | None, perm: str) -> bool:
        m = _SCOPE.search(self.headers.get("Authorization") or "")
        if not m:
            self._send(
                403,
                {
                    "message": "Missing Authentication Token: sign requests with SigV4 for service aoss"
                },
            )
            return False
        key, region, svc = m.group(1), m.group(2), m.group(3)
        if svc != "aoss" or region != self.col.region:
            self._send(
                403,
                {
                    "message": f"Credential should be scoped to correct service: 'aoss' in region {self.col.region}"
                },
            )
            return False
        try:
            service.authorize(
                self.account_id, region, self.col, _principal(self.account_id, key), index, perm
            )
        except service.Forbidden as err:
            self._send(
                403,
                {
                    "status": 403,
                    "request-id": "mllab-offline",
                    "error": {"reason": str(err), "type": "security_exception"},
                },
            )
            return False
        return True

    def _index(self, name: str) -> SearchIndex | None:
        idx = self.col.indexes.get(name)
        if idx is None:
            self._error(404, "index_not_found_exception", f"no such index [{name}]")
        return idx

    # ------------------------------------------------------------------ verbs
    def do_HEAD(self) -> None:  # noqa: N802 - stdlib naming
        parts = [p for p in urlsplit(self.path).path.split("/") if p]
        if len(parts) == 1 and self._auth(parts[0], "aoss:DescribeIndex"):
            self._send(200 if parts[0] in self.col.indexes else 404, None, head=True)
        elif not parts:
            self._send(200, None, head=True)

    def do_GET(self) -> None:  # noqa: N802
        self._route("GET")

    def do_PUT(self) -> None:  # noqa: N802
        self._route("PUT")

    def do_POST(self) -> None:  # noqa: N802
        self._route("POST")

    def do_DELETE(self) -> None:  # noqa: N802
        self._route("DELETE")

    def _route(self, verb: str) -> None:
        try:
            self._dispatch(verb)
        except QueryError as err:
            self._error(400, err.kind, err.reason)
        except (ValueError, KeyError, TypeError) as err:
            self._error(400, "parsing_exception", f"{type(err).__name__}: {err}")

    def _dispatch(self, verb: str) -> None:
        parts = [p for p in urlsplit(self.path).path.split("/") if p]
        body = self._body()
        if not parts:
            if self._auth(None, "aoss:DescribeCollectionItems"):
                self._send(
                    200,
                    {
                        "version": {"distribution": "opensearch", "number": "2.x (offline)"},
                        "tagline": "OpenSearch Serverless (mllab offline)",
                    },
                )
            return
        if parts[0] == "_bulk":
            return self._bulk(body, None)
        name = parts[0]
        rest = parts[1:]
        if not rest:
            if verb == "PUT":
                if not self._auth(name, "aoss:CreateIndex"):
                    return
                if name in self.col.indexes:
                    return self._error(
                        400, "resource_already_exists_exception", f"index [{name}] already exists"
                    )
                spec = json.loads(body or b"{}")
                self.col.indexes[name] = SearchIndex(name, spec)
                return self._send(
                    200, {"acknowledged": True, "shards_acknowledged": True, "index": name}
                )
            if verb == "DELETE":
                if self._auth(name, "aoss:DeleteIndex") and self._index(name) is not None:
                    del self.col.indexes[name]
                    self._send(200, {"acknowledged": True})
                return
            if verb == "GET":
                if self._auth(name, "aoss:DescribeIndex"):
                    idx = self._index(name)
                    if idx is not None:
                        self._send(
                            200, {name: {"mappings": idx.mappings, "settings": idx.settings}}
                        )
                return
        op = rest[0]
        if op == "_bulk":
            return self._bulk(body, name)
        if op in ("_search", "_count"):
            if not self._auth(name, "aoss:ReadDocument"):
                return
            idx = self._index(name)
            if idx is None:
                return
            q = json.loads(body or b"{}")
            if op == "_count":
                return self._send(
                    200, {"count": len(idx.evaluate(q.get("query") or {"match_all": {}}))}
                )
            return self._send(200, idx.search(q))
        if op == "_refresh":
            if self._auth(name, "aoss:WriteDocument"):
                self._send(200, {"_shards": {"total": 1, "successful": 1, "failed": 0}})
            return
        if op in ("_doc", "_create") and len(rest) <= 2:
            idx = (
                self._index(name)
                if self._auth(name, "aoss:WriteDocument" if verb != "GET" else "aoss:ReadDocument")
                else None
            )
            if idx is None:
                return
            doc_id = rest[1] if len(rest) == 2 else None
            if verb == "GET" and doc_id:
                src = idx.docs.get(doc_id)
                if src is None:
                    return self._send(404, {"_index": name, "_id": doc_id, "found": False})
                return self._send(
                    200, {"_index": name, "_id": doc_id, "found": True, "_source": src}
                )
            if verb == "DELETE" and doc_id:
                found = idx.delete(doc_id)
                return self._send(
                    200 if found else 404,
                    {"_index": name, "_id": doc_id, "result": "deleted" if found else "not_found"},
                )
            if doc_id is None:
                import uuid

                doc_id = uuid.uuid4().hex
            result = idx.index(doc_id, json.loads(body))
            return self._send(
                201 if result == "created" else 200,
                {"_index": name, "_id": doc_id, "result": result},
            )
        self._error(400, "illegal_argument_exception", f"unsupported request [{verb} {self.path}]")

    def _bulk(self, body: bytes, default_index: str | None) -> None:
        lines = [ln for ln in body.decode().split("\n") if ln.strip()]
        items, errors, i = [], False, 0
        checked: set[str] = set()
        while i < len(lines):
            action = json.loads(lines[i])
            ((op, meta),) = action.items()
            name = str(meta.get("_index") or default_index)
            if name not in checked:
                if not self._auth(name, "aoss:WriteDocument"):
                    return
                checked.add(name)
            idx = self.col.indexes.get(name)
            doc_id = meta.get("_id")
            if op == "delete":
                i += 1
                ok = idx is not None and doc_id is not None and idx.delete(doc_id)
                items.append(
                    {
                        op: {
                            "_index": name,
                            "_id": doc_id,
                            "status": 200 if ok else 404,
                            "result": "deleted" if ok else "not_found",
                        }
                    }
                )
                continue
            source = json.loads(lines[i + 1])
            i += 2
            if op == "update":
                source = source.get("doc", source)
            if idx is None:
                errors = True
                items.append(
                    {
                        op: {
                            "_index": name,
                            "status": 404,
                            "error": {
                                "type": "index_not_found_exception",
                                "reason": f"no such index [{name}]",
                            },
                        }
                    }
                )
                continue
            if doc_id is None:
                import uuid

                doc_id = uuid.uuid4().hex
            try:
                result = idx.index(str(doc_id), source)
                items.append(
                    {
                        op: {
                            "_index": name,
                            "_id": doc_id,
                            "status": 201 if result == "created" else 200,
                            "result": result,
                        }
                    }
                )
            except QueryError as err:
                errors = True
                items.append(
                    {
                        op: {
                            "_index": name,
                            "_id": doc_id,
                            "status": 400,
                            "error": {"type": err.kind, "reason": err.reason},
                        }
                    }
                )
        self._send(200, {"took": 1, "errors": errors, "items": items})
