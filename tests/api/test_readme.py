"""The README's examples, as a new user types them after `make run`, say what they get."""

from __future__ import annotations

import re

from app.main import create_app
from app.settings import Settings
from tests.conftest import REPO, app_client

README = (REPO / "README.md").read_text()
SHELL_LINES = [
    line
    for block in re.findall(r"```sh\n(.*?)```", README, re.S)
    for line in block.splitlines()
]


def _section(title: str) -> str:
    start = README.index(f"**{title}**")
    return README[start : README.index("\n**", start + 1)]


async def test_the_admin_example_says_what_a_plain_make_run_answers(tmp_path):
    async with app_client(create_app(Settings(cache_dir=tmp_path / "cache"))) as http:
        answer = await http.post("/api/v1/performance/clear-cache")
    admin = _section("Admin")
    without_token = next(
        line for line in admin.splitlines() if "clear-cache" in line and "http_code" in line
    )
    assert without_token.rstrip().endswith(f"# {answer.status_code}")


def test_the_admin_example_sets_the_token_it_then_sends():
    admin = _section("Admin")
    assert admin.index("LOGCLASS_ADMIN_TOKEN=") < admin.index('-H "Authorization: Bearer $')


def test_commands_carry_no_optional_brackets_a_reader_would_type():
    assert [line for line in SHELL_LINES if re.search(r"\[--?\w", line)] == []


def test_otlp_has_an_example_request():
    assert any("/v1/logs" in line and line.lstrip().startswith("curl") for line in SHELL_LINES)
