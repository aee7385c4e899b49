"""The reference design, re-implemented as the baseline: one line at a time, no cache.

What the logclass service replaced, written out so the benchmark can run both side by side:
a synchronous FastAPI endpoint (``def``, so Starlette runs it in its thread pool) that, for
each line in turn, tries the taxonomy's regex rules one ``re.search`` at a time, then calls
``model.encode([line])`` and the classifier head on that one embedding (a line the head is
unsure of ends ``Unclassified``, as in the original), and sends each line of a source routed
without BERT (``LegacyCRM``) to the LLM in a call of its own. Same taxonomy, same MiniLM model
folder, same head file, same LLM server as logclass; no batching, no template cache, no
deduplication. The model loads when the app is created, so
``/api/v1/health`` answers only once it is ready, as in the original.

    uvicorn benchmarks.e2e.reference_server:create_app --factory --port 8001

Env: ``REFERENCE_LLM_BASE_URL`` (``…/v1``; unset: no LLM), and the service's own
``LOGCLASS_TAXONOMY``, ``LOGCLASS_BERT_MODEL_PATH``, ``LOGCLASS_BERT_HEAD_PATH``.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from pydantic import BaseModel

from processors.bert import default_model_path
from processors.head import DEFAULT_HEAD_PATH, load_head
from processors.taxonomy import DEFAULT_TAXONOMY_PATH, Taxonomy

UNCLASSIFIED = "Unclassified"
THRESHOLD = 0.5
_CATEGORY = re.compile(r"<category>\s*(.*?)\s*</category>", re.I | re.S)


class LogIn(BaseModel):
    source: str
    log_message: str


class ClassifyIn(BaseModel):
    logs: list[LogIn]


def create_app() -> FastAPI:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    taxonomy = Taxonomy.load(os.environ.get("LOGCLASS_TAXONOMY", DEFAULT_TAXONOMY_PATH))
    rules = [(rule.pattern, rule.label) for rule in taxonomy.rules]
    model_path = os.environ.get("LOGCLASS_BERT_MODEL_PATH") or default_model_path()
    model = SentenceTransformer(str(model_path), device="cpu", local_files_only=True)
    head = load_head(os.environ.get("LOGCLASS_BERT_HEAD_PATH") or DEFAULT_HEAD_PATH)
    threshold = float(head.metadata.get("threshold", THRESHOLD))
    llm_url = os.environ.get("REFERENCE_LLM_BASE_URL")
    llm = httpx.Client(base_url=llm_url, timeout=30.0, trust_env=False) if llm_url else None
    labels = {label.casefold(): label for label in taxonomy.label_names}

    def classify_with_llm(line: str) -> tuple[str, str]:
        if llm is None:
            return UNCLASSIFIED, "none"
        prompt = (
            f"Classify the log message into one of these categories: "
            f"{', '.join(taxonomy.label_names)}. If none fits, use \"Unclassified\". "
            f"Put the category inside <category> </category> tags.\nLog message:\n"
            f"1. {json.dumps(line)}"
        )
        body = {"model": "reference", "messages": [{"role": "user", "content": prompt}]}
        reply = llm.post("/chat/completions", json=body).json()
        found = _CATEGORY.search(reply["choices"][0]["message"]["content"] or "")
        label = labels.get(found.group(1).casefold()) if found else None
        return (label, "llm") if label else (UNCLASSIFIED, "none")

    def classify_line(source: str, line: str) -> tuple[str, str]:
        tiers = taxonomy.routes[taxonomy.route_for(source)]
        if "regex" in tiers:
            for pattern, label in rules:
                if re.search(pattern, line):
                    return label, "regex"
        if "bert" in tiers:  # as the original: an unsure head ends Unclassified
            embedding = model.encode([line])
            probabilities = head.probabilities(embedding)[0]
            top = int(probabilities.argmax())
            if probabilities[top] >= threshold:
                return head.labels[top], "bert"
            return UNCLASSIFIED, "none"
        if "llm" in tiers:
            return classify_with_llm(line)
        return UNCLASSIFIED, "none"

    app = FastAPI(title="reference design")

    @app.post("/api/v1/classify")
    def classify(body: ClassifyIn) -> dict[str, Any]:
        results = []
        for log in body.logs:
            label, tier = classify_line(log.source, log.log_message)
            results.append({"label": label, "tier": tier, "cached": False})
        return {"results": results, "summary": {"total": len(results)}}

    @app.get("/api/v1/health")
    def health() -> dict[str, str]:
        return {"status": "ok", "model": Path(model_path).name}

    return app
