"""The ``http`` and ``graphql`` executors: one pooled ``httpx.AsyncClient`` per drain.

What they read from the integration's (merged) config, at send time:

``base_url`` (or the key named by ``HttpRequest.url_from``; a dotted name such as ``urls.1``
reaches into a list or table) and ``endpoint`` (graphql)
    A plain value, or a secret named ``<key>_env`` / ``<key>_keyring``. Full URL:
    ``base.rstrip("/") + path`` (a ``/`` is put between them when the path lacks one).
``auth_scheme``
    ``none`` (default), ``bearer`` (``Authorization: Bearer <token>``), ``basic`` (``username`` and
    the secret ``token`` as password) or ``header`` (the header named by ``auth_header``, default
    ``Authorization``, carrying the secret ``token`` as it is).
``secret_headers``
    ``{"Header-Name": "ENV_VAR"}`` (or ``{env = "ENV_VAR"}``, or ``{keyring = "service/user"}``):
    headers whose values are read, at send time, from environment variables or keyring
    entries. A credential header in plain ``headers`` is a config error naming this key.
``signing_secret_env`` / ``signing_secret_keyring``
    When set, ``X-MSP-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>." + the exact
    body bytes>``: the time is signed with the body, so a receiver can refuse a replayed
    request outside its window. ``signature_format = "legacy"`` sends the older
    ``sha256=<hex HMAC of the body>`` instead, for receivers written for it.
``response_ok_field`` (and ``response_error_field``, default ``error``)
    For APIs that answer 200 with ``{"ok": false, "error": "..."}``: such a body is a failure.

Every request also carries ``Idempotency-Key`` (the action's key) so a receiver can drop a
repeat. Which statuses are retried is read by :mod:`msp._executors.http_answers`, shared with the
dispatcher's policy.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from msp._executors import BaseExecutor, ExecutionContext, Outcome, unreachable
from msp._executors.http_answers import (
    already_applied,
    classify_status,
    delay_from_extensions,
    excerpt,
    rate_limited,
    read_retry_delay,
)
from msp._logging import get_log
from msp._secrets import MissingCredential, resolve_header, resolve_secret, secret_names

if TYPE_CHECKING:
    import httpx

#: Most bytes of a response read (the rest is dropped; the status decides the outcome).
MAX_BODY = 1 << 20
MAX_GRAPHQL_BODY = 16 << 20
AUTH_CODES = frozenset({"AUTHENTICATION_ERROR", "FORBIDDEN", "UNAUTHENTICATED", "UNAUTHORIZED"})
SIGNATURE_HEADER = "X-MSP-Signature"
#: Idle keep-alive connections are closed after this long (httpx's default). httpcore checks
#: every idle connection of the pool (a poll() per connection) each time a request starts or
#: ends, so connections opened by a burst and no longer needed cost CPU on every request until
#: they go; a long expiry (30 s) made the benchmark's drain pay for 16 mostly idle connections
#: throughout.
KEEPALIVE_S = 5.0


def _remember(ctx: ExecutionContext, value: str) -> None:
    remember = getattr(ctx, "remember", None)
    if callable(remember):
        remember(value)


def config_value(ctx: ExecutionContext, name: str) -> str:
    """A URL-like setting: ``name`` itself or a secret ``name_env``/``name_keyring``; a dotted
    name walks into lists (by index) and tables first, e.g. ``urls.1`` or ``targets.alerts``."""
    parts = name.split(".")
    if len(parts) == 1:
        value = ctx.secret(name)
        if f"{name}_env" in ctx.config or f"{name}_keyring" in ctx.config:
            _remember_url(ctx, value)
        return value
    node: Any = ctx.config
    for part in parts[:-1]:
        node = _step(node, part, name, ctx.integration)
    last = parts[-1]
    if isinstance(node, list):
        item = _step(node, last, name, ctx.integration)
        if isinstance(item, str):
            value = item
        elif isinstance(item, Mapping):
            value = resolve_secret(item, "url", integration=ctx.integration)
            if "url_env" in item or "url_keyring" in item:
                _remember_url(ctx, value)
        else:
            raise _config_problem(ctx.integration, f"{name} is neither a URL nor a table with url/url_env")
    elif isinstance(node, Mapping):
        value = resolve_secret(node, last, integration=ctx.integration)
        if f"{last}_env" in node or f"{last}_keyring" in node:
            _remember_url(ctx, value)
    else:
        raise _config_problem(ctx.integration, f"{name} does not name a value in the config")
    _remember(ctx, value)
    return value


def _remember_url(ctx: ExecutionContext, value: str) -> None:
    """A URL kept as a secret (a Slack webhook, say) is secret in its parts too: a server that
    echoes the path back must not get it stored."""
    from urllib.parse import urlsplit

    _remember(ctx, value)
    try:
        parts = urlsplit(value)
    except ValueError:
        return
    for piece in (parts.path, parts.query, parts.path.rstrip("/").rsplit("/", 1)[-1]):
        if len(piece) >= 8:
            _remember(ctx, piece)


def _step(node: Any, part: str, name: str, integration: str) -> Any:
    if isinstance(node, list) and part.isdigit() and int(part) < len(node):
        return node[int(part)]
    if isinstance(node, Mapping) and part in node:
        return node[part]
    raise _config_problem(integration, f"{name} does not name a value in the config")


def _config_problem(integration: str, message: str) -> MissingCredential:
    return MissingCredential(
        f"integrations.{integration or 'NAME'}: {message}",
        f"fix [integrations.{integration or 'NAME'}] in .msp/config.toml; the action waits until then",
    )


def _url(ctx: ExecutionContext, base: str, path: str, key: str) -> str:
    if not base.lower().startswith(("http://", "https://")):
        # Never echo the value: it may be a secret (a Slack webhook URL, say).
        raise _config_problem(ctx.integration, f"{key} is not an http(s) URL")
    if not path:
        return base
    joined = base.rstrip("/")
    return joined + (path if path.startswith(("/", "?")) else "/" + path)


def auth_headers(ctx: ExecutionContext) -> dict[str, str]:
    """Headers from ``auth_scheme``, ``secret_headers`` (values resolved now)."""
    cfg = ctx.config
    out: dict[str, str] = {}
    scheme = str(cfg.get("auth_scheme", "none")).lower()
    if scheme == "bearer":
        out["Authorization"] = f"Bearer {ctx.secret('token')}"
    elif scheme == "basic":
        username = cfg.get("username")
        if not username:
            raise _config_problem(ctx.integration, "auth_scheme = \"basic\" needs username")
        token = ctx.secret("token")
        pair = base64.b64encode(f"{username}:{token}".encode()).decode("ascii")
        _remember(ctx, pair)
        out["Authorization"] = f"Basic {pair}"
    elif scheme == "header":
        out[str(cfg.get("auth_header") or "Authorization")] = ctx.secret("token")
    elif scheme != "none":
        raise _config_problem(ctx.integration, f"auth_scheme {scheme!r} is not one of none, bearer, basic, header")
    extra = cfg.get("secret_headers") or {}
    if not isinstance(extra, Mapping):
        raise _config_problem(ctx.integration, "secret_headers must be a table of header = \"ENV_VAR\"")
    for header, spec in extra.items():
        value = resolve_header(spec, str(header), integration=ctx.integration)
        _remember(ctx, value)
        out[str(header)] = value
    return out


def signature(ctx: ExecutionContext, body: bytes, now_s: float | None = None) -> str | None:
    """The ``X-MSP-Signature`` value under the signing secret, if one is named.

    Default ``t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>." + body>`` (the scheme Stripe and
    Slack use: a receiver checks the HMAC, then that ``t`` is recent). ``signature_format =
    "legacy"``: ``sha256=<hex HMAC-SHA256 of body>``, which cannot tell a replay from a retry.
    """
    cfg = ctx.config
    if not (cfg.get("signing_secret_env") or cfg.get("signing_secret_keyring")):
        return None
    key = ctx.secret("signing_secret").encode("utf-8")
    if cfg.get("signature_format") == "legacy":
        return "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()
    stamp = str(int(time.time() if now_s is None else now_s))
    digest = hmac.new(key, stamp.encode("ascii") + b"." + body, hashlib.sha256).hexdigest()
    return f"t={stamp},v1={digest}"


def _transport_outcome(exc: Exception, timeout_s: float) -> Outcome:
    """A request that got no answer. Offline when the service was never reached: the connection
    was refused, the name did not resolve, the network or host is unreachable, or connecting
    timed out. A timeout or a drop after connecting reached the service: that counts."""
    import httpx

    if isinstance(exc, httpx.ConnectTimeout):
        return Outcome("retry", f"cannot connect within {timeout_s:g}s (ConnectTimeout)", offline=True)
    if isinstance(exc, httpx.TimeoutException):
        return Outcome("retry", f"no response within {timeout_s:g}s ({type(exc).__name__})")
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return Outcome("wait", f"the configured URL cannot be used: {type(exc).__name__}; fix it in config")
    if isinstance(exc, httpx.ConnectError):
        # Refused, no such name, no route: nothing was reached. A failed TLS handshake reached
        # a server that will not change its mind by itself, so it counts.
        return Outcome("retry", f"cannot connect: {exc or type(exc).__name__}", offline=unreachable(exc))
    detail = str(exc) or type(exc).__name__
    return Outcome("retry", f"connection failed ({type(exc).__name__}): {detail}")


class _HttpBase(BaseExecutor):
    """Owns the pooled client; keep-alive connections are reused across actions."""

    def __init__(self, *, max_connections: int = 100, client: httpx.AsyncClient | None = None) -> None:
        self._client = client
        self._own_client = client is None
        self._max_connections = max_connections

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            import httpx

            from msp._version import __version__

            self._client = httpx.AsyncClient(
                limits=httpx.Limits(max_connections=self._max_connections,
                                    max_keepalive_connections=self._max_connections,
                                    keepalive_expiry=KEEPALIVE_S),
                follow_redirects=False,
                headers={"User-Agent": f"msp/{__version__}"},
            )
        return self._client

    async def aclose(self) -> None:
        if self._client is not None and self._own_client:
            await self._client.aclose()
        self._client = None

    async def _send(self, method: str, url: str, headers: dict[str, str], body: bytes | None,
                    timeout_s: float, cap: int) -> tuple[int, Mapping[str, str], bytes] | Outcome:
        import httpx

        try:
            async with self.client.stream(method, url, content=body, headers=headers, timeout=timeout_s) as resp:
                chunks: list[bytes] = []
                size = 0
                async for chunk in resp.aiter_bytes():
                    chunks.append(chunk)
                    size += len(chunk)
                    if size >= cap:
                        break
                return resp.status_code, resp.headers, b"".join(chunks)[:cap]
        except httpx.HTTPError as exc:
            return _transport_outcome(exc, timeout_s)


class HttpExecutor(_HttpBase):
    """Delivers :class:`msp.HttpRequest` actions."""

    async def execute(self, action: Any, ctx: ExecutionContext) -> Outcome:
        base = config_value(ctx, action.url_from)
        url = _url(ctx, base, action.path, action.url_from)
        body: bytes | None = None
        headers = dict(action.headers)
        if action.json_body is not None:
            body = json.dumps(action.json_body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
            headers["Content-Type"] = "application/json"
        headers.setdefault("Idempotency-Key", action.idempotency_key)
        headers.update(auth_headers(ctx))
        signed = signature(ctx, body or b"")
        if signed:
            headers[SIGNATURE_HEADER] = signed
        sent = await self._send(action.method, url, headers, body, ctx.timeout_s, MAX_BODY)
        if isinstance(sent, Outcome):
            return sent
        status, resp_headers, data = sent
        outcome = http_outcome(status, resp_headers, data, list(action.expected_status), action.already_applied)
        if outcome.status == "done" and ctx.config.get("response_ok_field"):
            return ok_field_outcome(status, resp_headers, data, ctx) or outcome
        return outcome


#: ``error`` values of an ``ok: false`` body that mean "slow down" or "fix the credential".
OK_FIELD_RETRY = frozenset({"ratelimited", "rate_limited", "service_unavailable", "internal_error",
                            "fatal_error", "request_timeout"})
OK_FIELD_AUTH = frozenset({"invalid_auth", "not_authed", "token_revoked", "token_expired", "account_inactive",
                           "no_permission", "missing_scope"})


def ok_field_outcome(status: int, headers: Mapping[str, str], data: bytes, ctx: ExecutionContext) -> Outcome | None:
    """For APIs that answer 200 with ``{"ok": false, "error": "..."}`` (Slack's Web API): when the
    config names ``response_ok_field``, a JSON body whose field is ``false`` is a failure."""
    field = str(ctx.config["response_ok_field"])
    try:
        doc = json.loads(data) if data else None
    except (ValueError, RecursionError):  # not JSON, or nested deeper than any real answer
        return None
    if not isinstance(doc, dict) or doc.get(field) is not False:
        return None
    error = str(doc.get(str(ctx.config.get("response_error_field") or "error")) or "")
    detail = f"HTTP {status} with {field}=false" + (f": {error}" if error else f": {excerpt(data)}")
    if error in OK_FIELD_RETRY:
        return Outcome("retry", detail, retry_after_s=server_delay(headers, status),
                       status_code=status)
    if error in OK_FIELD_AUTH:
        where = secret_names(ctx.config, "token")
        return Outcome("wait", f"the service rejected the credential ({detail}); set a valid token in the "
                               f"{where} for integrations.{ctx.integration}", status_code=status)
    return Outcome("dead", detail, status_code=status)


def server_delay(headers: Mapping[str, str], status: int, errors: object = None) -> float | None:
    """The delay a rate-limited or failing answer asked for (headers, then GraphQL error
    extensions), with every unusable value logged and ignored; the policy caps the rest."""
    notes: list[str] = []
    now = time.time()
    delay = read_retry_delay(headers, now, notes)
    if delay is None and errors is not None:
        delay = delay_from_extensions(errors, now, notes)
    for note in notes:
        get_log().log("warning", "dispatch: a server sent an unusable delay; the backoff decides instead",
                      status=status, detail=note)
    return delay


#: What the result of an action says when a refusal proved an earlier attempt landed.
LANDED = "already applied: a refusal this action declares as proof that an earlier attempt landed"


def http_outcome(status: int, headers: Mapping[str, str], data: bytes, expected: list[int] | None = None,
                 landed: Sequence[Any] = ()) -> Outcome:
    """The outcome of an HTTP response under the dispatch policy. ``landed`` are the action's
    ``already_applied`` declarations: a refusal matching one is done, with the answer kept."""
    text = excerpt(data)
    detail = f"HTTP {status}" + (f": {text}" if text else "")
    verdict = classify_status(status, expected or [])
    if verdict == "done":
        return Outcome("done", detail, status_code=status)
    if verdict == "retry" or rate_limited(status, headers):
        return Outcome("retry", detail, retry_after_s=server_delay(headers, status), status_code=status)
    if landed and already_applied(landed, status, [], data.decode("utf-8", "replace")):
        return Outcome("done", f"{LANDED} ({detail})", status_code=status)
    if 300 <= status < 400:
        detail += " (redirects are not followed: configure the final URL)"
    return Outcome("dead", detail, status_code=status)


class GraphQLExecutor(_HttpBase):
    """Delivers :class:`msp.GraphQLRequest` actions to the config's ``endpoint``.

    A response carrying ``errors`` is a failure even with status 200: ``RATELIMITED`` (or HTTP
    429) is retried when the reset headers say; an authentication code or HTTP 401 waits for a
    valid credential; anything else is dead with the messages kept.
    """

    async def execute(self, action: Any, ctx: ExecutionContext) -> Outcome:
        endpoint = config_value(ctx, "endpoint")
        url = _url(ctx, endpoint, "", "endpoint")
        document: dict[str, Any] = {"query": action.document, "variables": action.variables}
        if action.operation_name:
            document["operationName"] = action.operation_name
        body = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        headers = {"Content-Type": "application/json", "Accept": "application/json",
                   "Idempotency-Key": action.idempotency_key}
        headers.update(auth_headers(ctx))
        signed = signature(ctx, body)
        if signed:
            headers[SIGNATURE_HEADER] = signed
        sent = await self._send("POST", url, headers, body, ctx.timeout_s, MAX_GRAPHQL_BODY)
        if isinstance(sent, Outcome):
            return sent
        status, resp_headers, data = sent
        return graphql_outcome(status, resp_headers, data, ctx, action.already_applied)


def _error_code(error: dict[str, Any]) -> str | None:
    extensions = error.get("extensions")
    code = extensions.get("code") if isinstance(extensions, dict) else None
    return str(code) if code not in (None, "") else None


def graphql_outcome(status: int, headers: Mapping[str, str], data: bytes, ctx: ExecutionContext,
                    landed: Sequence[Any] = ()) -> Outcome:
    doc: Any = None
    try:
        doc = json.loads(data) if data else None
    except (ValueError, RecursionError):  # not JSON, or nested deeper than any real answer
        doc = None
    errors = doc.get("errors") if isinstance(doc, dict) else None
    errors = errors if isinstance(errors, list) and errors else []
    # A hostile or broken server may send anything where an object is expected: read each
    # error's code and message without trusting their types.
    pairs = [(_error_code(e), str(e.get("message", ""))) for e in errors if isinstance(e, dict)]
    codes = {(code or "").upper() for code, _ in pairs}
    messages = "; ".join(message + (f" [{code}]" if code else "") for code, message in pairs)
    if status == 429 or "RATELIMITED" in codes:
        return Outcome("retry", f"rate limited (HTTP {status}){': ' + excerpt(messages) if messages else ''}",
                       retry_after_s=server_delay(headers, status, errors), status_code=status)
    if status == 401 or codes & AUTH_CODES:
        where = secret_names(ctx.config, "token")
        return Outcome(
            "wait",
            f"the service rejected the credential (HTTP {status}{', ' + excerpt(messages, 200) if messages else ''}); "
            f"set a valid token in the {where} for integrations.{ctx.integration}",
            status_code=status,
        )
    if classify_status(status) == "retry":
        return http_outcome(status, headers, data)
    if errors:
        if landed and len(pairs) == len(errors) and already_applied(landed, status, pairs, ""):
            return Outcome("done", f"{LANDED} (HTTP {status}: {excerpt(messages)})", status_code=status)
        return Outcome("dead", f"GraphQL errors (HTTP {status}): {excerpt(messages)}", status_code=status)
    if not 200 <= status < 300:
        return http_outcome(status, headers, data)
    if not isinstance(doc, dict) or "data" not in doc:
        return Outcome("dead", f"HTTP {status} but not a GraphQL response: {excerpt(data) or 'empty body'}",
                       status_code=status)
    return Outcome("done", f"HTTP {status}: {excerpt(json.dumps(doc['data'], ensure_ascii=False), 300)}",
                   status_code=status)
