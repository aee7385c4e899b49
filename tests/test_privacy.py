"""The privacy contract of ``mask`` (README "Privacy", SECURITY.md): private values planted
in random log lines never reach the template, the LLM's prompt, or the template cache.

Each case plants one private value (an address, a host, an e-mail, a URL's query, an
account name in one of the promised contexts, a secret under a secret key, a random-looking
token, a card- or IBAN-shaped number) among ordinary log words. The masker alone is checked
on thousands of cases; the whole pipeline (a real LLM test server that records its prompts,
a real disk cache) on batches of them.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitoring import MetricsRegistry
from processors.cache import TemplateCache
from processors.llm import LlmTier
from processors.llm_prompt import build_messages
from processors.pipeline import Classifier
from processors.records import LogRecord
from processors.taxonomy import DEFAULT_TAXONOMY_PATH, Taxonomy
from processors.templates import mask
from tests.llm_fixtures import LlmServer

TAXONOMY = Taxonomy.load(DEFAULT_TAXONOMY_PATH)
MASK_CASES = 3_000
PIPELINE_BATCHES, BATCH = 25, 40  # 1,000 planted lines through the pipeline
_PROMPT_LINE = re.compile(r'^\s*\d+\.\s+(".*")\s*$', re.M)

FILLER = st.sampled_from(
    ["connection", "request", "worker", "started", "ERROR", "WARN", "failed", "timeout",
     "denied", "retrying", "job", "queue", "-", "[main]", "ok", "done", "state=READY", "42",
     "0x1f", "12:30:01", "after", "to", "on", "upstream", "handler:", "pid=311"]
)  # fmt: skip
LETTERS = "abcdefghijklmnopqrstuvwxyz"
HEX = "0123456789abcdef"
B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
B64URL = B64[:-2] + "-_"


def text(alphabet: str, low: int, high: int) -> st.SearchStrategy[str]:
    return st.text(alphabet, min_size=low, max_size=high)


# A name the filler never holds: it could only come from the plant.
NAME = text(LETTERS, 5, 10).map(lambda n: "q" + n)
LABEL = text(LETTERS + "-", 2, 8).filter(lambda x: x[0] != "-" and x[-1] != "-")
OCTET = st.integers(0, 255).map(str)
IPV4 = st.builds(lambda *o: ".".join(o), OCTET, OCTET, OCTET, OCTET)
IPV6 = st.lists(text(HEX, 1, 4), min_size=3, max_size=6).map(lambda g: "2001:db8:" + ":".join(g))
FQDN = st.builds(
    lambda a, b, tld: f"{a}.{b}.{tld}", LABEL, LABEL,
    st.sampled_from(["com", "net", "org", "io", "internal", "local", "co.uk", "example.de",
                     "example.hk", "corp"]),
)  # fmt: skip
DASHED_HOST = st.builds(lambda a, n: f"{a}-{n}", text(LETTERS, 2, 6), st.integers(0, 9999))
PORT = st.integers(1, 65535)
MAC = st.lists(text(HEX, 2, 2), min_size=6, max_size=6).map(":".join)
SECRET_VALUE = text(LETTERS + LETTERS.upper() + "0123456789!#%*+/~._-", 6, 24).filter(
    lambda v: v[0] not in "-_." and not v.isdecimal()
)
# 8+ random letters: a shorter "word" can be a real one that the prompt or sqlite file holds
SECRET_WORDS = st.lists(text(LETTERS, 8, 12), min_size=2, max_size=3).map(" ".join)
SECRET_KEY = st.sampled_from(
    ["password", "passwd", "pwd", "secret", "token", "api_key", "apikey", "authorization",
     "bearer", "cookie", "session", "private_key", "DB_PASSWORD", "X-Api-Key", "access_token",
     "client_secret", "sessionid", "Password"]
)  # fmt: skip


def plant(kind: str, secret: str, fragment: str, whole_words: bool = False) -> tuple:
    """(kind, the private value, the text planted, check whole tokens only)."""
    return kind, secret, fragment, whole_words


def _key_value(key: str, value: str, form: int) -> str:
    return [f"{key}={value}", f"{key}: {value}", f'"{key}": "{value}"', f"{key}='{value}'"][form]


PLANTS = st.one_of(
    st.builds(lambda ip: plant("ipv4", ip, f"from {ip}"), IPV4),
    st.builds(lambda ip, p: plant("ipv4:port", ip, f"{ip}:{p}"), IPV4, PORT),
    st.builds(lambda ip: plant("ipv6", ip, ip), IPV6),
    st.builds(lambda ip, p: plant("[ipv6]:port", ip, f"[{ip}]:{p}"), IPV6, PORT),
    st.builds(lambda h: plant("fqdn", h, h), FQDN),
    st.builds(lambda h, p: plant("fqdn:port", h, f"{h}:{p}"), FQDN, PORT),
    st.builds(lambda h: plant("dashed host", h, h), DASHED_HOST),
    st.builds(lambda m: plant("mac", m, m), MAC),
    st.builds(lambda u, d: plant("email", f"{u}@{d}", f"{u}@{d}"),
              st.builds(lambda a, b: f"{a}.{b}", NAME, NAME), st.one_of(FQDN, NAME)),
    st.builds(lambda h, v: plant("url query", v, f"https://{h}/cb?token={v}&x=1"),
              FQDN, SECRET_VALUE.filter(lambda v: "#" not in v)),
    st.builds(lambda h, v: plant("path query", v, f"GET /login?code={v} HTTP/1.1"),
              FQDN, SECRET_VALUE.filter(lambda v: "#" not in v)),
    st.builds(lambda k, v, f: plant("key secret", v, _key_value(k, v, f)),
              SECRET_KEY, SECRET_VALUE, st.integers(0, 3)),
    # a session id is one token ("Session: 3054 initialized by ..."); other values run on
    st.builds(lambda k, v: plant("clause secret", v, f"{k}={v};"),
              SECRET_KEY.filter(lambda k: "session" not in k), SECRET_WORDS),
    st.builds(lambda v: plant("bearer", v, f"Authorization: Bearer {v}"), SECRET_VALUE),
    st.builds(lambda h: plant("long hex", h, h), text(HEX, 32, 64)),
    st.builds(lambda b: plant("base64", b, b), text(B64, 24, 44).filter(
        lambda b: b[0] not in "+/")),
    st.builds(lambda a, b, c: plant("jwt", f"{a}.{b}.{c}", f"eyJ{a}.{b}.{c}"),
              text(B64URL, 10, 30), text(B64URL, 10, 40), text(B64URL, 20, 43)),
    st.builds(lambda g, sep: plant("card", "".join(g), sep.join(g)),
              st.lists(text("0123456789", 4, 4), min_size=4, max_size=4),
              st.sampled_from(["", " ", "-"])),
    st.builds(lambda cc, ck, g, spaced: plant(
        "iban", "".join(g), f"{cc}{ck} " + " ".join(g) if spaced else cc + ck + "".join(g)),
        st.sampled_from(["DE", "FR", "GB", "NL", "ES"]), text("0123456789", 2, 2),
        st.lists(text("0123456789", 4, 4), min_size=4, max_size=6), st.booleans()),
    st.builds(lambda n, ip, how: plant("user", n, [
        f"Invalid user {n} from {ip}", f"session closed for user {n}",
        f"Login failed for {n}", f"Accepted password for {n} from {ip}",
        f"session opened for user {n}, by {n}(uid=0)", f"password changed by {n}",
        f"logged in as {n}", f"FTP login {n} from {ip}", f"user={n}", f"login: {n}",
        f'"username": "{n}"', f"authentication failure for {n};"][how], True),
        NAME, IPV4, st.integers(0, 11)),
)  # fmt: skip


@st.composite
def planted_lines(draw: st.DrawFn) -> tuple[str, tuple]:
    before = draw(st.lists(FILLER, max_size=8))
    after = draw(st.lists(FILLER, max_size=8))
    planted = draw(PLANTS)
    if planted[3]:  # an account name ends its clause, as the contract says
        line = " ".join([*before, planted[2]]) + ("; " + " ".join(after) if after else "")
    else:
        line = " ".join([*before, planted[2], *after])
    return line, planted


def leaks(template: str, planted: tuple) -> list[str]:
    """The parts of the planted value still in ``template``."""
    kind, secret, _, whole_words = planted
    if whole_words:
        return [secret] if secret in re.findall(r"[\w.\-]+", template) else []
    if kind in ("card", "iban"):
        return [run for run in re.findall(r"\d{3,}", secret) if run in template]
    words = [p for p in secret.split() if len(p) >= 4] if " " in secret else []
    # a word of a multi-word secret counts as a whole word ("stream" is in "upstream")
    return ([secret] if secret in template else []) + [
        w for w in words if re.search(rf"(?<![\w.\-]){re.escape(w)}(?![\w.\-])", template)]


@settings(max_examples=MASK_CASES, deadline=None, database=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])  # fmt: skip
@given(planted_lines())
def test_no_planted_private_value_survives_in_the_template(case: tuple[str, tuple]) -> None:
    line, planted = case
    template = mask(line)
    assert not leaks(template, planted), f"{planted[0]}: {line!r} -> {template!r}"
    assert mask(template) == template


def _classify(llm: LlmServer, directory: Path, lines: list[str]) -> tuple[list[str], list[str]]:
    async def run() -> list[str]:
        tier = LlmTier(TAXONOMY, llm.url(), "test-model", registry=MetricsRegistry(),
                       backoff=0.01, timeout=5.0)  # fmt: skip
        cache = TemplateCache(directory)
        try:
            classifier = Classifier(TAXONOMY, {"llm": tier}, cache=cache)
            verdicts = await classifier.classify([LogRecord("LegacyCRM", x) for x in lines])
            return [v.template for v in verdicts]
        finally:
            cache.close()
            await tier.aclose()

    templates = asyncio.run(run())
    prompts = [request["prompt"] for request in llm.stats()["requests"]]
    return templates, prompts


@settings(max_examples=PIPELINE_BATCHES, deadline=None, database=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.lists(planted_lines(), min_size=BATCH, max_size=BATCH))  # fmt: skip
def test_no_planted_private_value_reaches_the_llm_or_the_cache(
    llm: LlmServer, tmp_path_factory, cases: list[tuple[str, tuple]]
) -> None:
    llm.reset()
    directory = tmp_path_factory.mktemp("cache")
    templates, prompts = _classify(llm, directory, [line for line, _ in cases])
    assert prompts, "the LLM tier was never asked"
    # what the prompts carry from the lines: their numbered templates (the rest is fixed text)
    prompt_text = "\n".join(m.group(1) for p in prompts for m in _PROMPT_LINE.finditer(p))
    # the rest of each prompt, less its fixed system text (label descriptions are ordinary
    # words, which a planted value may happen to be)
    system = build_messages(TAXONOMY, ["x"], "json_schema")[0]["content"]
    whole_prompts = "\n".join(prompt.replace(system, "") for prompt in prompts)
    stored = "\n".join(
        path.read_bytes().decode("utf-8", "replace") for path in directory.rglob("*")
        if path.is_file()
    )  # fmt: skip
    assert stored, "nothing reached the disk cache"
    # the ordinary words of the batch: a value that is also one of them (hypothesis reuses
    # strings across a case) cannot be told apart from it in the shared prompts and cache
    ordinary = "\n".join(line.replace(planted[2], " ") for line, planted in cases)
    for (line, planted), template in zip(cases, templates, strict=True):
        where = f"{planted[0]}: {line!r}"
        assert not leaks(template, planted), f"verdict template, {where}"
        if leaks(ordinary, planted):
            continue
        assert not leaks(prompt_text, planted), f"LLM prompt, {where}"
        assert planted[1] not in whole_prompts or planted[3], f"LLM prompt, {where}"
        assert not leaks(stored, planted), f"cache, {where}"
