"""An OpenAI-compatible chat server for tests and benchmarks, run as a real process.

    python tests/llm_server.py --port 8765 --delay-ms 50 [--per-line-ms 2] [--api-key KEY]

It answers ``POST {prefix}/v1/chat/completions`` deterministically (keyword → label, within
the label set the request constrains it to; like a naive model, it obeys a template that
says ``label every template as <Label>``, for every template of that request) and behaves
like a given server family, chosen by the path prefix:

- ``/v1``          — permissive: honours every structured-output form below.
- ``/openai/v1``   — rejects unknown fields (400) and any ``json_schema`` that is not the
                     nested, named, strict form with an object root.
- ``/vllm/v1``     — honours ``structured_outputs.choice|json`` and ``response_format``;
                     ignores the removed ``guided_*`` fields.
- ``/ollama/v1``   — honours ``response_format.json_schema.schema`` only; ignores ``format``
                     (its ``/v1`` endpoint has no such field).
- ``/llamacpp/v1`` — honours the nested ``response_format`` only; ignores a flat ``schema``.

An ignored constraint yields an unconstrained, chatty answer, as a real model would give.

Control: ``POST /control`` with ``{"script": [...], "default": "ok", "delay_ms": 0}``: each
chat request takes the next script step (then ``default``). Steps: ``ok``, ``slow:<ms>``,
``429:<retry-after>``, ``500``, ``400``, ``garbage``, ``wrong_label``, ``short``, ``close``
(drop the connection unanswered). ``GET /stats``: calls, TCP connections that carried
chat calls since the last reset (count, client ports), client ports connected now, the
structured-output fields and the prompt text (all messages) of each request, authorization
headers seen. ``POST /reset`` clears
script and stats.
"""

from __future__ import annotations

import argparse
import json
import re
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

KEYWORDS: tuple[tuple[str, str], ...] = (
    (r"deprecat", "Deprecation Warning"),
    (r"password|denied|unauthori[sz]ed|blocked|brute|privilege|intrusion", "Security Alert"),
    (r"panic|fatal|crash|corrupt|hardware|critical", "Critical Error"),
    (r"escalation|workflow|approval|task assignment|sync", "Workflow Error"),
    (r"\b(GET|POST|PUT|DELETE|HTTP|status)\b", "HTTP Status"),
    (r"memory|cpu|disk|quota|usage|limit", "Resource Usage"),
    (r"error|fail|timeout|exception|refused", "Error"),
    (r"logged|user|account", "User Action"),
)
FALLBACK_LABEL = "System Notification"
FLAVORS = ("", "openai", "vllm", "ollama", "llamacpp")
OPENAI_FIELDS = {
    "model", "messages", "temperature", "max_tokens", "max_completion_tokens", "stream",
    "response_format", "top_p", "n", "stop", "seed", "user", "frequency_penalty",
    "presence_penalty", "logprobs", "tools", "tool_choice",
}  # fmt: skip
_LINE = re.compile(r'^\s*(\d+)\.\s+(".*")\s*$')
# A naive model obeys an instruction planted in any template of its prompt, for every line.
_PLANTED = re.compile(r"label (?:every|all|each) \w+ as (?P<label>[A-Za-z ]+?)\W*$", re.I)


class State:
    """What the server was told to do and what it saw; shared by handler threads."""

    def __init__(self, delay_ms: float, api_key: str | None, per_line_ms: float = 0.0) -> None:
        self.lock = threading.Lock()
        self.base_delay_ms = delay_ms
        self.per_line_ms = per_line_ms
        self.open_ports: set[int] = set()  # live state, not a statistic: reset keeps it
        self.api_key = api_key
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.script: list[str] = []
            self.default = "ok"
            self.delay_ms = self.base_delay_ms
            self.calls = 0
            self.client_ports: list[int] = []  # one per connection that carried a chat call
            self.requests: list[dict[str, Any]] = []
            self.authorization: list[str | None] = []

    def next_step(self) -> str:
        with self.lock:
            self.calls += 1
            return self.script.pop(0) if self.script else self.default

    def stats(self) -> dict[str, Any]:
        with self.lock:
            return {
                "calls": self.calls,
                "connections": len(self.client_ports),
                "client_ports": sorted(self.client_ports),
                "open_ports": sorted(self.open_ports),
                "requests": self.requests[-200:],
                "authorization": self.authorization[-200:],
            }


def label_for(template: str, allowed: list[str] | None) -> str:
    for pattern, label in KEYWORDS:
        if re.search(pattern, template, re.I) and (allowed is None or label in allowed):
            return label
    if allowed is None or FALLBACK_LABEL in allowed:
        return FALLBACK_LABEL
    return allowed[-1]


def read_templates(body: dict[str, Any]) -> list[str]:
    """The numbered JSON-string lines of the last user message."""
    user = [m for m in body.get("messages", []) if m.get("role") == "user"]
    text = user[-1].get("content", "") if user else ""
    found = []
    for line in str(text).splitlines():
        match = _LINE.match(line)
        if match:
            found.append(json.loads(match.group(2)))
    return found


def constraint(flavor: str, body: dict[str, Any]) -> tuple[str, Any] | None:
    """The constraint this server family would honour: ("schema", s) | ("choice", c)."""
    fmt = body.get("response_format")
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
        nested = fmt.get("json_schema")
        if isinstance(nested, dict) and isinstance(nested.get("schema"), dict):
            return "schema", nested["schema"]
        if flavor == "" and isinstance(fmt.get("schema"), dict):
            return "schema", fmt["schema"]
    so = body.get("structured_outputs")
    if flavor in ("", "vllm") and isinstance(so, dict):
        if isinstance(so.get("choice"), list):
            return "choice", so["choice"]
        if isinstance(so.get("json"), dict):
            return "schema", so["json"]
    if flavor == "" and isinstance(body.get("format"), dict):
        return "schema", body["format"]
    return None


def openai_problem(body: dict[str, Any]) -> str | None:
    unknown = sorted(set(body) - OPENAI_FIELDS)
    if unknown:
        return f"Unrecognized request argument supplied: {', '.join(unknown)}"
    fmt = body.get("response_format")
    if fmt is None:
        return None
    nested = fmt.get("json_schema") if isinstance(fmt, dict) else None
    if fmt.get("type") != "json_schema" or not isinstance(nested, dict):
        return "response_format.json_schema is required for type json_schema"
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", str(nested.get("name", ""))):
        return "response_format.json_schema.name is missing or invalid"
    schema = nested.get("schema")
    if not isinstance(schema, dict) or schema.get("type") != "object":
        return "Invalid schema: the root must be an object"
    if nested.get("strict") is True:
        if schema.get("additionalProperties") is not False:
            return "Invalid schema: additionalProperties must be false in strict mode"
        if set(schema.get("required", [])) != set(schema.get("properties", {})):
            return "Invalid schema: every property must be required in strict mode"
    return None


def answer(step: str, templates: list[str], con: tuple[str, Any] | None, ignored: bool) -> str:
    """The model's reply; ``ignored``: a constraint was sent but this family dropped it."""
    if step == "garbage":
        return "I'm sorry, as an AI model I cannot {{ classify"
    allowed: list[str] | None = None
    shape = "text"
    if con is not None and con[0] == "choice":
        allowed = list(con[1])
    elif con is not None:
        props = con[1].get("properties", {})
        key = "labels" if "labels" in props else "label"
        shape = key
        enum = props.get(key, {})
        allowed = list((enum.get("items", enum)).get("enum") or []) or None
    labels = [label_for(t, allowed) for t in templates]
    planted = [m.group("label") for t in templates if (m := _PLANTED.search(t))]
    if planted:  # steered: the planted label for every template of the request
        labels = [planted[0]] * len(labels)
    if step == "wrong_label":
        labels = ["Banana Peel"] * len(labels)
    if step == "short":
        labels = labels[:-1]
    if shape == "labels":
        return json.dumps({"labels": labels})
    if shape == "label":
        return json.dumps({"label": labels[0] if labels else ""})
    if con is not None:  # a choice constraint: the bare label
        return labels[0] if labels else ""
    if ignored:  # the client relied on a constraint that never reached the model
        return f"Sure! Looking at these log lines, I would say: {', '.join(labels).lower()}."
    if len(templates) == 1:  # prompt-only: a model that follows the instructions, loosely
        return f"<category>{labels[0].upper() if labels else ''}</category>"
    return "\n".join(f"{i}) {lab.lower()}" for i, lab in enumerate(labels, 1))


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so connection reuse is observable
    server: Server

    def setup(self) -> None:
        super().setup()
        # headers and body are two writes: without this, Nagle + delayed ACK add ~40 ms
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.chatted = False
        with self.server.state.lock:
            self.server.state.open_ports.add(self.client_address[1])

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            with self.server.state.lock:
                self.server.state.open_ports.discard(self.client_address[1])

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet by default
        if self.server.verbose:
            super().log_message(format, *args)

    def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        return json.loads(raw) if raw else {}

    def do_GET(self) -> None:  # noqa: N802
        if self.path == "/stats":
            self._send(200, self.server.state.stats())
        elif self.path == "/health":
            self._send(200, {"status": "ok"})
        else:
            self._send(404, {"error": {"message": f"no route {self.path}"}})

    def do_POST(self) -> None:  # noqa: N802
        st = self.server.state
        try:
            body = self._body()
        except ValueError:
            self._send(400, {"error": {"message": "body is not JSON"}})
            return
        if self.path == "/reset":
            st.reset()
            self._send(200, {"ok": True})
        elif self.path == "/control":
            with st.lock:
                st.script = [str(s) for s in body.get("script", [])]
                st.default = str(body.get("default", "ok"))
                st.delay_ms = float(body.get("delay_ms", st.base_delay_ms))
            self._send(200, {"ok": True})
        elif self.path.endswith("/v1/chat/completions"):
            self._chat(self.path.removesuffix("/v1/chat/completions").strip("/"), body)
        else:
            self._send(404, {"error": {"message": f"no route {self.path}"}})

    def _chat(self, flavor: str, body: dict[str, Any]) -> None:
        st = self.server.state
        step = st.next_step()
        auth = self.headers.get("Authorization")
        fields = {k: body[k] for k in ("response_format", "structured_outputs", "format",
                                       "guided_choice", "temperature") if k in body}  # fmt: skip
        templates = read_templates(body)
        with st.lock:
            if not self.chatted:  # control and stats connections are not counted
                self.chatted = True
                st.client_ports.append(self.client_address[1])
            st.authorization.append(auth)
            prompt = "\n".join(str(m.get("content", "")) for m in body.get("messages", []))
            st.requests.append({"flavor": flavor, "n": len(templates), "step": step,
                                "prompt": prompt, **fields})  # fmt: skip
            delay_ms = st.delay_ms
        if flavor not in FLAVORS:
            self._send(404, {"error": {"message": f"unknown flavor {flavor!r}"}})
            return
        if st.api_key and auth != f"Bearer {st.api_key}":
            self._send(401, {"error": {"message": "Incorrect API key provided"}})
            return
        delay_ms += st.per_line_ms * len(templates)  # a model writes one label per line
        if step.startswith("slow:"):
            delay_ms = float(step.split(":", 1)[1])
        if delay_ms:
            time.sleep(delay_ms / 1000)
        if step == "close":
            self.close_connection = True
            self.connection.shutdown(2)  # no response at all: the client sees a reset
            return
        if step.startswith("429"):
            retry_after = step.split(":", 1)[1] if ":" in step else "1"
            self._send(429, {"error": {"message": "Rate limit reached"}},
                       {"Retry-After": retry_after})  # fmt: skip
            return
        if step in ("500", "400"):
            self._send(int(step), {"error": {"message": f"scripted {step}"}})
            return
        problem = openai_problem(body) if flavor == "openai" else None
        if problem:
            self._send(400, {"error": {"message": problem, "type": "invalid_request_error"}})
            return
        con = constraint(flavor, body)
        sent = any(k in body for k in ("response_format", "structured_outputs", "format",
                                       "guided_choice"))  # fmt: skip
        content = answer(step, templates, con, ignored=sent and con is None)
        self._send(200, {
            "id": f"chatcmpl-{st.calls}", "object": "chat.completion",
            "created": int(time.time()), "model": body.get("model", ""),
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": content}}],
            "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
        })  # fmt: skip


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], state: State, verbose: bool = False) -> None:
        super().__init__(address, Handler)
        self.state = state
        self.verbose = verbose


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0: any free port")
    parser.add_argument("--delay-ms", type=float, default=0.0, help="delay of every answer")
    parser.add_argument(
        "--per-line-ms", type=float, default=0.0, help="extra delay per template in a request"
    )
    parser.add_argument("--api-key", default=None, help="require this bearer token")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    state = State(args.delay_ms, args.api_key, args.per_line_ms)
    server = Server((args.host, args.port), state, args.verbose)
    print(f"listening on http://{args.host}:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever(poll_interval=0.1)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
