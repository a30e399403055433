"""A Cohere-compatible emulator of the v2 chat endpoint on 127.0.0.1, for tests and benchmarks. It also
answers OpenAI's /v1/chat/completions (what vLLM and llama.cpp's server speak), with the same content.

Deterministic: the answer is a function of the request (same messages, same text), and a JSON-schema
request gets JSON that fits the schema. Faults are queued and served in order, one per request, or
drawn at `fault_rates` (e.g. {"timeout": 0.3}) for the requests the queue leaves: `429` (with
Retry-After), `500`, `timeout` (the answer comes `slow_seconds` later, after the client gave up),
`malformed` (a body that is not JSON), `cut` (the connection closes halfway through the body),
`no_usage` (an answer that does not say what it billed), and two billed answers that are unusable:
`off_schema` (JSON that does not fit the schema) and `truncated` (cut at max_tokens). `none` serves a
normal answer, to place a fault later in the queue. `latency` delays every answer. With `api_key`,
any other key gets 401. `script(phrase, answer)` chooses the answer to every request whose messages
hold the phrase (a test's verdict for one prompt), billed as a generated one. The real `cohere` client
talks to it through base_url, so everything above the HTTP layer is the real thing.

It keeps its own bill, as the API would: `billed_usd` prices, with the price table, every answer it
generated, whether or not the client got it (timeout, malformed, cut, no_usage included); errors (401,
429, 500) are not billed.

By hand (a steward trying `curation extend` or `curation classify` without a key or a bill):

    python -m curation.llms.cohere_emulator --port 8765        # serves until Ctrl-C
    export COHERE_BASE_URL=http://127.0.0.1:8765               # the two lines it prints, in another shell
    export COHERE_API_KEY=emulator
    curation extend RUN_DIR --dry-run                          # the cells it would fill, tokens and USD
    curation extend RUN_DIR --max-prompts 12                   # then: curation run RUN_DIR_extension/run.yaml
    curation classify RUN_DIR

Without `--port` it takes a free port; the lines it prints always name the one it took. It accepts any
key unless started with `--api-key KEY` (then any other key gets 401). For `provider: openai`, set
`base_url: http://127.0.0.1:8765/v1` in the extension's YAML. Its answers are filler text and
schema-shaped JSON, so what it makes is for trying the commands, not for training.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from curation.llms.cost import Price, load_prices

COHERE_CHAT, OPENAI_CHAT = "/v2/chat", "/v1/chat/completions"
WORDS = ("la", "abuela", "prepara", "mate", "con", "yerba", "del", "barrio", "y", "cuenta", "que", "en", "Rosario",
         "se", "toma", "amargo", "por", "la", "mañana", "mientras", "charlamos", "sobre", "el", "día")


def _text(seed: str, words: int) -> str:
    digest = hashlib.blake2b(seed.encode(), digest_size=32).digest()
    chosen = [WORDS[digest[i % len(digest)] % len(WORDS)] for i in range(words)]
    return " ".join(chosen).capitalize() + "."


def _fill(schema: dict, seed: str):
    """A value that fits a (simple) JSON schema, decided by the seed."""
    kind = schema.get("type")
    if "enum" in schema:
        return schema["enum"][int(hashlib.blake2b(seed.encode(), digest_size=2).hexdigest(), 16) % len(schema["enum"])]
    if kind == "object":
        return {name: _fill(sub, f"{seed}/{name}") for name, sub in schema.get("properties", {}).items()}
    if kind == "array":
        return [_fill(schema.get("items", {"type": "string"}), f"{seed}/{index}") for index in range(2)]
    if kind == "integer":
        low, high = schema.get("minimum", 1), schema.get("maximum", 10)
        return low + int(hashlib.blake2b(seed.encode(), digest_size=2).hexdigest(), 16) % (high - low + 1)
    if kind == "number":
        return round(int(hashlib.blake2b(seed.encode(), digest_size=2).hexdigest(), 16) / 65535, 3)
    if kind == "boolean":
        return hashlib.blake2b(seed.encode(), digest_size=1).digest()[0] % 4 == 0  # true one time in four
    return _text(seed, 8)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # the default 5 resets connections when 32+ clients connect at once


class CohereEmulator:
    """Start with `with CohereEmulator() as emulator:`; give the client `emulator.base_url`."""

    def __init__(self, latency: float = 0.0, output_words: int = 40, api_key: str | None = None,
                 prices: dict[str, Price] | None = None, fault_rates: dict[str, float] | None = None, port: int = 0):
        """`port` 0 takes a free one; a port in use raises OSError."""
        self.latency, self.output_words, self.api_key = latency, output_words, api_key
        self.slow_seconds = 5.0
        self.faults: deque[str] = deque()
        self.fault_rates = fault_rates or {}
        self.prices = load_prices() if prices is None else prices
        self.requests: list[dict] = []
        self.scripted: dict[str, str] = {}  # a phrase of the messages -> the answer's text
        self.billed_usd = 0.0
        self.in_flight = self.most_in_flight = 0
        self._lock = threading.Lock()
        self._random = random.Random(0)
        self._server = _Server(("127.0.0.1", port), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def inject(self, *faults: str) -> None:
        self.faults.extend(faults)

    def script(self, phrase: str, answer: dict | str) -> None:
        """Answer every request whose messages hold `phrase` with `answer` (a dict is sent as JSON)."""
        self.scripted[phrase] = answer if isinstance(answer, str) else json.dumps(answer, ensure_ascii=False)

    def _scripted(self, request: dict) -> str | None:
        contents = "\n".join(str(message.get("content", "")) for message in request.get("messages", []))
        return next((answer for phrase, answer in self.scripted.items() if phrase in contents), None)

    def _next_fault(self) -> str | None:
        """The next queued fault, else one drawn at the fault rates (called under the lock)."""
        if self.faults:
            return self.faults.popleft()
        draw = self._random.random()
        for fault, rate in self.fault_rates.items():
            if draw < rate:
                return fault
            draw -= rate
        return None

    def _bill(self, model: str, input_tokens: int, output_tokens: int) -> None:
        price = self.prices.get(model)
        if price is not None:
            with self._lock:
                self.billed_usd += price.usd(input_tokens, output_tokens)

    def reply(self, request: dict) -> tuple[str, str, int, int]:
        """The answer's id, text, and billed input and output tokens (words, here)."""
        seed = json.dumps(request.get("messages"), sort_keys=True, ensure_ascii=False)
        response_format = request.get("response_format") or {}
        schema = response_format.get("json_schema")
        if response_format.get("type") == "json_schema":  # OpenAI's shape: {"name": ..., "schema": ...}
            schema = schema["schema"]
        text = self._scripted(request)
        if text is None:
            text = json.dumps(_fill(schema, seed), ensure_ascii=False) if schema else _text(seed, self.output_words)
        input_tokens = sum(len(str(message.get("content", "")).split()) for message in request.get("messages", []))
        return hashlib.blake2b(seed.encode(), digest_size=8).hexdigest(), text, input_tokens, len(text.split())

    def answer(self, request: dict, path: str, fault: str | None = None) -> dict:
        """The answer's body, generated and so billed, whether or not the client will get it."""
        answer_id, text, input_tokens, output_tokens = self.reply(request)
        if fault == "off_schema":
            text = json.dumps({"unexpected": text})
        self._bill(request.get("model"), input_tokens, output_tokens)
        truncated = fault == "truncated"
        if path == OPENAI_CHAT:
            answer = {"id": answer_id, "object": "chat.completion", "created": 0, "model": request.get("model"),
                      "choices": [{"index": 0, "finish_reason": "length" if truncated else "stop",
                                   "message": {"role": "assistant", "content": text}}],
                      "usage": {"prompt_tokens": input_tokens, "completion_tokens": output_tokens,
                                "total_tokens": input_tokens + output_tokens}}
        else:
            answer = {"id": answer_id, "finish_reason": "MAX_TOKENS" if truncated else "COMPLETE",
                      "message": {"role": "assistant", "content": [{"type": "text", "text": text}]},
                      "usage": {"billed_units": {"input_tokens": input_tokens, "output_tokens": output_tokens},
                                "tokens": {"input_tokens": input_tokens, "output_tokens": output_tokens}}}
        if fault == "no_usage":
            del answer["usage"]
        return answer

    def _handler(self):
        emulator = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the real APIs: a client reuses its connections
            def log_message(self, *args):  # quiet: tests read emulator.requests instead
                pass

            def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None, cut: bool = False) -> None:
                """`cut`: the headers announce the whole body, half of it is sent, then the connection closes."""
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body[: len(body) // 2] if cut else body)
                if cut:
                    self.close_connection = True

            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                request = json.loads(self.rfile.read(length) or b"{}")
                with emulator._lock:
                    emulator.requests.append(request)
                    fault = emulator._next_fault()
                path = self.path.rstrip("/")
                if path not in (COHERE_CHAT, OPENAI_CHAT):
                    return self._send(404, b'{"message": "only /v2/chat and /v1/chat/completions are emulated"}')
                if emulator.api_key is not None and self.headers.get("Authorization") != f"Bearer {emulator.api_key}":
                    return self._send(401, b'{"message": "invalid api token"}')
                if fault == "429":
                    return self._send(429, b'{"message": "too many requests"}', {"Retry-After": "1"})
                if fault == "500":
                    return self._send(500, b'{"message": "internal error"}')
                answer = emulator.answer(request, path, fault)
                if fault == "malformed":  # generated, then its body garbled on the way
                    return self._send(200, b'{"id": "x", "message": {"content": [')
                with emulator._lock:
                    emulator.in_flight += 1
                    emulator.most_in_flight = max(emulator.most_in_flight, emulator.in_flight)
                try:
                    time.sleep(emulator.slow_seconds if fault == "timeout" else emulator.latency)
                    self._send(200, json.dumps(answer, ensure_ascii=False).encode(), cut=fault == "cut")
                except (BrokenPipeError, ConnectionResetError):  # the client gave up: billed all the same
                    self.close_connection = True
                finally:
                    with emulator._lock:
                        emulator.in_flight -= 1

        return Handler

    def __enter__(self) -> CohereEmulator:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()


ANY_KEY = "emulator"  # what the printed COHERE_API_KEY line says when any key is accepted


def _port(text: str) -> int:
    if not (text.isdigit() and int(text) <= 65535):
        raise argparse.ArgumentTypeError(f"{text!r} is not a port (0-65535)")
    return int(text)


def _seconds(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds <= 600:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds (0-600)")
    return seconds


def exports(emulator: CohereEmulator) -> str:
    """The shell lines that point `curation extend` and `curation classify` at this emulator."""
    return f"export COHERE_BASE_URL={emulator.base_url}\nexport COHERE_API_KEY={emulator.api_key or ANY_KEY}"


def main(argv: list[str] | None = None) -> None:
    """Serve the emulator on 127.0.0.1 until Ctrl-C; print the lines to export (stdout, nothing else there)."""
    import sys

    parser = argparse.ArgumentParser(
        prog="python -m curation.llms.cohere_emulator", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="A local Cohere v2 (and OpenAI-compatible) chat endpoint that bills nothing real. It prints\n"
                    "`export COHERE_BASE_URL=...` and `export COHERE_API_KEY=...`: run them in the shell where you\n"
                    "then run `curation extend RUN_DIR --dry-run`, `curation extend` or `curation classify`.")
    parser.add_argument("--port", type=_port, default=0, help="port on 127.0.0.1, 0-65535 (default 0: a free one)")
    parser.add_argument("--latency", type=_seconds, default=0.0, help="seconds before every answer, 0-600 (default 0)")
    parser.add_argument("--api-key", default=None, help="accept only this key (default: any key)")
    arguments = parser.parse_args(argv)
    try:
        emulator = CohereEmulator(latency=arguments.latency, api_key=arguments.api_key, port=arguments.port)
    except OSError as error:
        parser.exit(2, f"error: cannot serve on 127.0.0.1:{arguments.port}: {error.strerror}\n")
    with emulator:
        print(exports(emulator), flush=True)
        print(f"Cohere emulator at {emulator.base_url} (OpenAI-compatible: {emulator.base_url}/v1); Ctrl-C stops it",
              file=sys.stderr, flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
