"""The offline stand-in foundation model behind Bedrock Converse and InvokeModel.

**What it is.** A deterministic, *extractive* question-answering and tool-calling program.
No chat LLM ships in an installable package and no weights may be downloaded, so offline
Bedrock calls are answered by this model instead. It never generates new prose: every
sentence it answers with is copied from the request -- the system prompt, earlier turns,
documents or retrieved chunks placed in the prompt, or tool results -- plus a few fixed
connective sentences (e.g. "I cannot answer that from the context given.").

**How it picks its words.**

1. It splits the request into the *question* (the last user turn's question: a line after
   ``Question:``, the last sentence ending in "?", or the last paragraph) and the *context*
   (every other sentence of the system prompt, the conversation, ``document`` blocks and
   ``toolResult`` blocks). Sentences that are instructions ("Answer in 20 words", "You are
   a ...") are not used as facts.
2. Each context sentence is scored for relevance to the question:
   ``0.6 * cosine(embedding) + 0.4 * lexical recall`` (embeddings from
   :mod:`mllab.models.embeddings`; lexical recall = share of the question's content words,
   lightly stemmed, that the sentence contains).
3. Sentences scoring at least the model profile's ``min_relevance`` are candidates. The
   profile's quality knob ``max_passages`` caps how many it combines (Nova Micro 1, Nova Pro
   3, Claude Sonnet 4.5 5, ...). With ``temperature`` 0 it takes the best; above 0 it samples
   from a softmax over the scores (narrowed by ``topP``) with a seed derived from the request,
   so the same request always gives the same answer. Chosen sentences are joined in the
   order they appear in the context.
4. No candidate -> "I cannot answer that from the context given." A RAG prompt therefore
   measurably beats a bare prompt, and a chunking that splits a fact from its subject loses.
5. Instructions it can check are followed: a JSON object or JSON Schema given in the
   prompt (fields filled from the context: numbers, enum values, names, passages), word and
   sentence limits, bulleted lists, "summarize" (most central sentences), and a requested
   language only when the context holds sentences in that language (otherwise it says it
   can only answer in English). ``maxTokens`` cuts the output at that many tokens
   (``stopReason: max_tokens``); ``stopSequences`` cut before the first match
   (``stop_sequence``).
6. Tools: the tool whose name and description match the question best (above a threshold;
   ``toolChoice`` auto / any / tool honoured) is called with an input filled from values in
   the user's turns -- numbers next to the field's name, enum values, quoted strings, emails,
   dates, ids, capitalised names -- and ``stopReason: tool_use``. A required field it cannot
   find makes it ask for that field instead of inventing it. After a ``toolResult`` it
   answers from the result.

**How it differs from an LLM.** It does not paraphrase, reason over several steps,
translate, do arithmetic, know anything outside the request, or read images. It is fast,
deterministic and transparent: ``generate(..., explain=True)`` returns the scores behind
each choice. Quality differences between model profiles come only from the knobs above;
use them to practise *how* to compare models (evaluation, cost, latency), not to learn
which real model is better.

Introduced in lab 05 (a grounded generative AI application); lab 06's agents call tools
through it.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mllab.models import catalog, tokens

CANNOT_ANSWER = "I cannot answer that from the context given."
NO_QUESTION = "I did not find a question in the request."


class ModelInputError(ValueError):
    """The request cannot be served; the message is in Bedrock's words where it has them."""


# --------------------------------------------------------------------------- text utilities

_STOP = frozenset(
    """a about above after again against all am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for from
    further had has have having he her here hers herself him himself his how i if in into is it
    its itself just me more most my myself no nor not now of off on once only or other our ours
    ourselves out over own same she should so some such than that the their theirs them
    themselves then there these they this those through to too under until up very was we were
    what when where which while who whom why will with would you your yours yourself
    yourselves please tell give me much many long also us let may might must shall""".split()
)

_WORD = re.compile(r"[A-Za-z][A-Za-z'\-]*|\d+(?:[.,]\d+)*")
_SENT_SPLIT = re.compile(
    r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9])|\n\s*\n|\n(?=\s*(?:[-*•]|\d+[.)])\s)"
)


def _stem(word: str) -> str:
    w = word.lower().strip("'-")
    for suffix in ("ing", "ies", "es", "ed", "ly", "s"):
        if len(w) > len(suffix) + 2 and w.endswith(suffix):
            return w[: -len(suffix)] + ("y" if suffix == "ies" else "")
    return w


def content_words(text: str) -> list[str]:
    """Lower-cased, lightly stemmed words of ``text`` without stop words."""
    return [_stem(w) for w in _WORD.findall(text) if w.lower() not in _STOP]


_LABEL = re.compile(
    r"^(?:context|documents?|sources?|passages?|background|information|reference|excerpt|"
    r"chunk|result|text)\s*(?:\[?\d+\]?)?\s*:\s*",
    re.I,
)


def split_sentences(text: str) -> list[str]:
    """Split text into sentences and list items (a regular-expression splitter); markup tags
    such as ``<search_result index="1">`` separate sentences and are dropped."""
    out: list[str] = []
    text = _TAG.sub("\n\n", text)
    for part in _SENT_SPLIT.split(text):
        for line in part.split("\n") if part.count("\n") and _looks_like_list(part) else [part]:
            s = _LABEL.sub("", line.strip().lstrip("-*• ").strip()).strip()
            if s:
                out.append(s)
    return out


def _looks_like_list(part: str) -> bool:
    lines = [ln for ln in part.split("\n") if ln.strip()]
    return len(lines) > 1 and all(len(ln) < 400 for ln in lines)


_OBJ = r"(the|a|an|your|only|it|them|in|as|json|one|no|at|each|all|exactly|up|just|with|\d)"
_INSTRUCTION = re.compile(
    r"^(you are|you're|you will|you must|you should|your (task|job|role)|act as|answer|respond|"
    r"reply|please|use (only )?the (context|information|documents?|passages?|sources?)|"
    r"only (use|answer|respond|reply)|"
    r"(do not|don't|never|always|must)( \w+){0,2} (answer|respond|reply|make up|invent|guess|"
    r"mention|say|reveal|use|include|output|return|write|cite)|"
    rf"(return|output|format|write|include|provide|cite|limit|extract|classify|translate) {_OBJ}|"
    r"summari[sz]e|be (concise|brief)|keep (it|your)|if you|"
    r"(based on|using|given) (only )?the (context|information|documents?|passages?|sources?))\b",
    re.I,
)


def is_instruction(sentence: str) -> bool:
    """True for a sentence that instructs the model rather than states a fact."""
    s = sentence.strip().strip("#*").strip()
    return bool(_INSTRUCTION.match(s)) or s.endswith(":") and len(s) < 80


# --------------------------------------------------------------------------- request parsing


@dataclass
class Passage:
    """One context sentence and where it came from."""

    text: str
    source: str  # "system", "conversation", "prompt", "document:<name>", "tool:<id>"
    order: int
    score: float = 0.0
    semantic: float = 0.0
    lexical: float = 0.0


@dataclass
class Request:
    """A Converse request reduced to what the stand-in uses."""

    question: str
    instructions: str
    passages: list[Passage]
    tool_results: list[dict[str, Any]]
    user_text: str
    images: int = 0
    task: str = "answer"  # answer | summarize
    seed_material: str = ""
    questions_seen: list[str] = field(default_factory=list)


_QMARK = re.compile(r"(?im)^\s*(?:question|query|q|user question|user)\s*[:\-]\s*(.+?)\s*$")
_TAGGED = re.compile(
    r"<(context|documents?|search_results?|sources?|passages?|chunks?|information|data)"
    r"(?:\s[^>]*)?>(.*?)</\1>",
    re.I | re.S,
)
_TAG = re.compile(r"</?[A-Za-z_][\w-]*(?:\s[^<>]*)?/?>")
_TASK = re.compile(r"^\s*(summari[sz]e|give (me )?a summary|tl;?dr)\b", re.I)


def _block_texts(block: dict[str, Any]) -> list[tuple[str, str]]:
    """(kind, text) pieces of one content block."""
    if "text" in block:
        return [("text", str(block["text"]))]
    if "document" in block:
        doc = block["document"]
        return [(f"document:{doc.get('name', 'document')}", _document_text(doc))]
    if "toolResult" in block:
        res = block["toolResult"]
        parts = []
        for c in res.get("content", []):
            if "text" in c:
                parts.append(str(c["text"]))
            elif "json" in c:
                parts.append(_json_to_sentences(c["json"]))
            elif "document" in c:
                parts.append(_document_text(c["document"]))
        return [(f"tool:{res.get('toolUseId', '')}", "\n".join(parts))]
    if "guardContent" in block:
        inner = block["guardContent"].get("text", {})
        return [("text", str(inner.get("text", "")))]
    return []


def _document_text(doc: dict[str, Any]) -> str:
    src = doc.get("source", {})
    if "text" in src:
        return str(src["text"])
    raw = src.get("bytes", b"")
    if isinstance(raw, str):
        raw = raw.encode()
    fmt = str(doc.get("format", "txt")).lower()
    if fmt == "pdf":
        import io

        from pypdf import PdfReader

        reader = PdfReader(io.BytesIO(raw))
        return "\n\n".join(page.extract_text() or "" for page in reader.pages)
    text = raw.decode("utf-8", errors="replace")
    if fmt == "html":
        text = re.sub(r"<[^>]+>", " ", text)
    return text


def _json_to_sentences(value: Any, prefix: str = "") -> str:
    """Render a JSON tool result as one "key: value." sentence per leaf."""
    lines: list[str] = []

    def walk(v: Any, path: str) -> None:
        if isinstance(v, dict):
            for k, sub in v.items():
                walk(sub, f"{path} {k}".strip() if path else str(k))
        elif isinstance(v, list) and v and all(not isinstance(x, dict | list) for x in v):
            lines.append(f"{_words(path) or 'result'}: {', '.join(str(x) for x in v)}.")
        elif isinstance(v, list):
            for i, sub in enumerate(v):
                walk(sub, f"{path} {i + 1}".strip())
        else:
            lines.append(f"{_words(path) or 'result'}: {v}.")

    walk(value, prefix)
    return "\n".join(lines)


def _words(identifier: str) -> str:
    s = re.sub(r"([a-z])([A-Z])", r"\1 \2", identifier)
    return re.sub(r"[_\-]+", " ", s).strip()


def _split_question(text: str) -> tuple[str, str]:
    """Split the last user turn into (question, context)."""
    tagged = _TAGGED.findall(text)
    if tagged:
        context = "\n\n".join(body for _, body in tagged)
        rest = _TAGGED.sub(" ", text)
        q, more = _split_question(rest)
        return q, (context + ("\n\n" + more if more else "")).strip()
    found = list(_QMARK.finditer(text))
    m = found[-1] if found else None
    if m is not None:
        return m.group(1).strip(), (text[: m.start()] + text[m.end() :]).strip()
    paragraphs = [p for p in re.split(r"\n\s*\n", text) if p.strip()]
    task = next((i for i, p in enumerate(paragraphs) if _TASK.match(p)), None)
    if task is not None and len(paragraphs) > 1:
        return paragraphs[task].strip(), "\n\n".join(
            p for i, p in enumerate(paragraphs) if i != task
        )
    if len(paragraphs) > 1:
        qi = max((i for i, p in enumerate(paragraphs) if "?" in p), default=len(paragraphs) - 1)
        question = paragraphs[qi]
        if "?" in question and len(split_sentences(question)) > 1:
            sents = split_sentences(question)
            q_s = [s for s in sents if s.endswith("?")][-1]
            others = [s for s in sents if s is not q_s]
            question = q_s
            paragraphs[qi] = " ".join(others)
        else:
            paragraphs[qi] = ""
        return question.strip(), "\n\n".join(p for p in paragraphs if p.strip())
    sents = split_sentences(text)
    qs = [s for s in sents if s.rstrip().endswith("?")]
    if qs and len(sents) > 1:
        q = qs[-1]
        return q, " ".join(s for s in sents if s is not q)
    return text.strip(), ""


def parse_request(messages: list[dict[str, Any]], system: list[dict[str, Any]] | None) -> Request:
    """Reduce a Converse request to question, instructions and context passages."""
    passages: list[Passage] = []
    instructions: list[str] = []
    order = 0

    def add(text: str, source: str) -> None:
        nonlocal order
        for s in split_sentences(text):
            if is_instruction(s) or (source != "prompt" and source.startswith("q")):
                instructions.append(s)
                continue
            passages.append(Passage(s, source, order))
            order += 1

    for block in system or []:
        for _, text in _block_texts(block):
            add(text, "system")
    last_user = max((i for i, m in enumerate(messages) if m.get("role") == "user"), default=-1)
    tool_results: list[dict[str, Any]] = []
    question = ""
    user_text_parts: list[str] = []
    images = 0
    questions_seen: list[str] = []
    for i, msg in enumerate(messages):
        role = msg.get("role")
        for block in msg.get("content", []):
            if "image" in block or "video" in block:
                images += 1
            if "toolResult" in block and i == last_user:
                tool_results.append(block["toolResult"])
            for kind, text in _block_texts(block):
                if role == "user" and kind == "text":
                    user_text_parts.append(text)
                if i == last_user and kind == "text":
                    q, ctx = _split_question(text)
                    if q:
                        question = (question + " " + q).strip() if question else q
                    add(ctx, "prompt")
                elif kind.startswith("tool:"):
                    add(text, kind)
                elif kind.startswith("document:"):
                    add(text, kind)
                elif role == "user":
                    q, ctx = _split_question(text)
                    if q:
                        questions_seen.append(q)
                    for s in split_sentences(text):
                        if not s.endswith("?") and not is_instruction(s):
                            passages.append(Passage(s, "conversation", order))
                            order += 1
                else:  # earlier assistant turns: what it said is context too
                    if text.strip() and text.strip() != CANNOT_ANSWER:
                        for s in split_sentences(text):
                            passages.append(Passage(s, "conversation", order))
                            order += 1
    if tool_results and not question:
        # answering from a tool result: the question is the user's last question
        question = questions_seen[-1] if questions_seen else ""
    task = "summarize" if _TASK.match(question or "") else "answer"
    asked = [q for q in split_sentences(question) if not is_instruction(q)]
    scoring_question = " ".join(asked) if asked and task == "answer" else question
    # instructions can sit inside the question sentence too ("... in 10 words?")
    all_instructions = " ".join(instructions + [question])  # the full question, instructions too
    seed = json.dumps([messages, system], sort_keys=True, default=str)
    return Request(
        question=scoring_question,
        instructions=all_instructions,
        passages=passages,
        tool_results=tool_results,
        user_text="\n".join(user_text_parts),
        images=images,
        task=task,
        seed_material=seed,
        questions_seen=questions_seen,
    )


# --------------------------------------------------------------------------- scoring


def score_passages(question: str, passages: list[Passage]) -> None:
    """Set each passage's ``score`` (0.6 semantic + 0.4 lexical) for ``question``."""
    if not passages:
        return
    from mllab.models import embeddings

    texts = [question] + [p.text for p in passages]
    vecs = embeddings.embed(texts)
    sims = vecs[1:] @ vecs[0]
    qwords = set(content_words(question))
    for p, sim in zip(passages, sims, strict=True):
        words = set(content_words(p.text))
        lex = len(qwords & words) / len(qwords) if qwords else 0.0
        p.semantic = float(sim)
        p.lexical = lex
        p.score = 0.6 * float(sim) + 0.4 * lex


def _rng(seed_material: str, inference_config: dict[str, Any]) -> np.random.Generator:
    digest = hashlib.sha256(
        (seed_material + json.dumps(inference_config, sort_keys=True, default=str)).encode()
    ).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "big"))


def choose(
    candidates: list[Passage],
    k: int,
    temperature: float,
    top_p: float,
    rng: np.random.Generator,
) -> list[Passage]:
    """Pick up to ``k`` candidates: greedy at temperature 0, else seeded softmax sampling."""
    ranked = sorted(candidates, key=lambda p: (-p.score, p.order))
    if k <= 0 or not ranked:
        return []
    if temperature <= 0:
        return ranked[:k]
    scores = np.array([p.score for p in ranked])
    logits = (scores - scores.max()) / (0.05 * temperature)
    probs = np.exp(logits)
    probs /= probs.sum()
    keep = int(np.searchsorted(np.cumsum(probs), min(top_p, 1.0) - 1e-12) + 1)
    keep = max(keep, min(k, len(ranked)) if top_p >= 1.0 else 1)
    pool, p = ranked[:keep], probs[:keep] / probs[:keep].sum()
    idx = rng.choice(len(pool), size=min(k, len(pool)), replace=False, p=p)
    return [pool[i] for i in sorted(idx)]


# --------------------------------------------------------------------------- instructions

_NUM_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "a single": 1, "a": 1, "twenty": 20, "fifty": 50, "fifteen": 15,
}  # fmt: skip
_N = r"(\d+|one|two|three|four|five|six|seven|eight|nine|ten|fifteen|twenty|fifty|a single|a)"
_WORD_LIMIT = re.compile(
    rf"(?:at most|no more than|up to|maximum of|max(?:imum)?|under|fewer than|less than|within|in)\s+{_N}\s+words?"
    rf"|{_N}\s+words?\s+(?:or (?:less|fewer)|max(?:imum)?)",
    re.I,
)
_SENT_LIMIT = re.compile(
    rf"(?:at most|no more than|up to|maximum of|in|with|using)\s+{_N}\s+sentences?"
    rf"|{_N}\s+sentences?\s+(?:or (?:less|fewer)|max(?:imum)?)|\b(one|single)[- ]sentence\b",
    re.I,
)
_BULLETS = re.compile(r"\b(bullet(ed)? (list|points?)|as (a )?list|list of bullet)", re.I)
LANGUAGES = {
    "en": "English", "fr": "French", "es": "Spanish", "de": "German", "it": "Italian",
    "pt": "Portuguese", "nl": "Dutch", "ja": "Japanese", "zh": "Chinese", "ko": "Korean",
    "ar": "Arabic", "hi": "Hindi",
}  # fmt: skip
_LANG_NAMES = {v.lower(): k for k, v in LANGUAGES.items()}
_LANG = re.compile(
    r"\b(?:in|into|using)\s+(english|french|spanish|german|italian|portuguese|dutch|japanese|"
    r"chinese|korean|arabic|hindi)\b|\blanguage(?:\s+code)?\s*[:=]?\s*[\"']?([a-z]{2})\b",
    re.I,
)
_LANG_MARKERS = {
    "fr": {"le", "la", "les", "est", "et", "des", "une", "pour", "dans", "avec", "sont", "du"},
    "es": {"el", "la", "los", "las", "es", "y", "una", "para", "con", "del", "por", "está"},
    "de": {"der", "die", "das", "ist", "und", "ein", "eine", "mit", "für", "nicht", "den"},
    "it": {"il", "la", "è", "e", "una", "per", "con", "del", "della", "sono", "che", "gli"},
    "pt": {"o", "a", "os", "é", "e", "uma", "para", "com", "do", "da", "não", "são"},
    "nl": {"de", "het", "een", "is", "en", "van", "voor", "met", "niet", "zijn", "op"},
}


def _num(token: str) -> int:
    return int(token) if token.isdigit() else _NUM_WORDS.get(token.lower(), 1)


@dataclass
class Instructions:
    """What the prompt asks of the answer's form."""

    max_words: int | None = None
    max_sentences: int | None = None
    bullets: bool = False
    language: str | None = None
    json_schema: dict[str, Any] | None = None


def parse_instructions(text: str) -> Instructions:
    """Find word/sentence limits, list form, language and a JSON schema in ``text``."""
    ins = Instructions()
    m = _WORD_LIMIT.search(text)
    if m:
        ins.max_words = _num(next(g for g in m.groups() if g))
    m = _SENT_LIMIT.search(text)
    if m:
        g = next(g for g in m.groups() if g)
        ins.max_sentences = 1 if g.lower() in {"one", "single"} else _num(g)
    ins.bullets = bool(_BULLETS.search(text))
    for m in _LANG.finditer(text):
        code = _LANG_NAMES.get((m.group(1) or "").lower()) or (m.group(2) or "").lower()
        if code in LANGUAGES:
            ins.language = code
    if re.search(r"\bjson\b", text, re.I):
        ins.json_schema = _find_schema(text)
    return ins


def _find_schema(text: str) -> dict[str, Any] | None:
    decoder = json.JSONDecoder()
    best: dict[str, Any] | None = None
    for m in re.finditer(r"\{", text):
        try:
            value, end = decoder.raw_decode(text, m.start())
        except ValueError:
            continue
        if isinstance(value, dict) and (
            best is None or len(json.dumps(value)) > len(json.dumps(best))
        ):
            best = value
    if best is None:
        return {"type": "object", "properties": {"answer": {"type": "string"}}}
    if "properties" in best or best.get("type") == "object":
        return best
    # an example object: infer a schema from its values
    return {"type": "object", "properties": {k: _infer(v) for k, v in best.items()},
            "required": list(best)}  # fmt: skip


def _infer(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"type": "boolean"}
    if isinstance(value, int):
        return {"type": "integer"}
    if isinstance(value, float):
        return {"type": "number"}
    if isinstance(value, list):
        return {"type": "array", "items": _infer(value[0]) if value else {"type": "string"}}
    if isinstance(value, dict):
        return {"type": "object", "properties": {k: _infer(v) for k, v in value.items()}}
    return {"type": "string"}


def detect_language(text: str) -> str:
    """A stop-word vote for the language of ``text`` (en, fr, es, de, it, pt, nl)."""
    words = re.findall(r"[^\W\d_]+", text.lower())
    if not words:
        return "en"
    votes = {code: sum(w in marks for w in words) for code, marks in _LANG_MARKERS.items()}
    votes["en"] = sum(w in _STOP for w in words)
    best = max(votes, key=lambda c: votes[c])
    return best if votes[best] >= max(1, len(words) // 10) else "en"


def _limit_words(text: str, n: int) -> str:
    words = text.split()
    if len(words) <= n:
        return text
    cut = " ".join(words[:n]).rstrip(",;:")
    return cut if cut.endswith((".", "!", "?")) else cut + "."


# --------------------------------------------------------------------------- values

_NUMBER = re.compile(r"(?<![\w.])-?\d+(?:,\d{3})*(?:\.\d+)?(?![\w])")
_QUOTED = re.compile(r"\"([^\"]{1,200})\"|“([^”]{1,200})”|'([^']{2,200})'(?!\w)")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")
_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}(?:T[\d:]+Z?)?\b|\b\d{1,2}/\d{1,2}/\d{2,4}\b")
_CODE = re.compile(
    r"\b(?=[A-Za-z0-9-]*\d)(?=[A-Za-z0-9-]*[A-Za-z])[A-Za-z0-9]+(?:-[A-Za-z0-9]+)+\b|\b[A-Z]{1,5}\d{2,}\b"
)
_CAPS = re.compile(
    r"\b[A-Z][a-zA-Z'\-]+(?:\s+(?:of|de|da|van|von|del|la|le)?\s*[A-Z][a-zA-Z'\-]+)*"
)


_SMALL = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen twenty".split())}  # fmt: skip
_NUMBER_WORD = re.compile(r"\b(" + "|".join(_SMALL) + r")\b", re.I)


@dataclass
class Value:
    """A value found in text, with its position and the words around it."""

    value: Any
    kind: str  # number, quoted, email, date, code, name
    start: int
    context: list[str]
    after: list[str] = field(default_factory=list)


def _proper_noun(word: str) -> bool:
    """True when the tokenizer knows ``word`` better capitalised (fewer tokens) than lower-case:
    its training text used it mostly as a name (Paris, Lisbon), not as a common word (Shipping)."""
    return tokens.count(word) < tokens.count(word.lower())


def _after(text: str, end: int) -> list[str]:
    return [_stem(w) for w in _WORD.findall(text[end : end + 40])[:1]]


def find_values(text: str) -> list[Value]:
    """Values a tool input can be filled from: numbers, quoted strings, emails, dates, ids, names."""
    found: list[Value] = []
    taken: list[tuple[int, int]] = []

    def free(a: int, b: int) -> bool:
        return all(b <= x or a >= y for x, y in taken)

    def ctx(a: int, b: int) -> list[str]:
        before = _WORD.findall(text[max(0, a - 40) : a])[-3:]
        after = _WORD.findall(text[b : b + 40])[:3]
        return [_stem(w) for w in before + after]

    for kind, rx in (("email", _EMAIL), ("date", _DATE), ("quoted", _QUOTED), ("code", _CODE)):
        for m in rx.finditer(text):
            if free(m.start(), m.end()):
                val = next((g for g in m.groups() if g), None) if m.groups() else m.group(0)
                found.append(Value(val or m.group(0), kind, m.start(), ctx(m.start(), m.end())))
                taken.append((m.start(), m.end()))
    for m in _NUMBER.finditer(text):
        if free(m.start(), m.end()):
            raw = m.group(0).replace(",", "")
            num: Any = float(raw) if "." in raw else int(raw)
            found.append(
                Value(num, "number", m.start(), ctx(m.start(), m.end()), _after(text, m.end()))
            )
            taken.append((m.start(), m.end()))
    for m in _NUMBER_WORD.finditer(text):
        if free(m.start(), m.end()):
            found.append(
                Value(
                    _SMALL[m.group(0).lower()],
                    "number",
                    m.start(),
                    ctx(m.start(), m.end()),
                    _after(text, m.end()),
                )
            )
            taken.append((m.start(), m.end()))
    for m in _CAPS.finditer(text):
        if not free(m.start(), m.end()):
            continue
        span = m.group(0).strip()
        first = span.split()[0]
        at_start = m.start() == 0 or re.search(
            r"[.!?:\n]\s*$|^\s*$", text[max(0, m.start() - 3) : m.start()]
        )
        mid_sentence_caps = re.search(rf"[^.!?:\s]\s+{re.escape(first)}\b", text)
        if at_start and (
            first.lower() in _STOP
            or first.lower() in _COMMON_STARTS
            or not (mid_sentence_caps or _proper_noun(first))
        ):
            # a capital at a sentence start is a name only when it is capitalised mid-sentence too
            rest = span.split(None, 1)
            if len(rest) < 2:
                continue
            span = rest[1]
        if span.lower() in _STOP or span.lower() in _COMMON_STARTS:
            continue
        found.append(Value(span, "name", m.start(), ctx(m.start(), m.end())))
    found.sort(key=lambda v: v.start)
    return found


_COMMON_STARTS = frozenset(
    "what whats what's how can could would is are do does please tell show find get book give "
    "i i'm im my hi hello hey thanks thank yes no ok okay also and then set check look list "
    "create send make use call run help".split()
)


def _informal(words: set[str]) -> bool:
    """True when a field's words say nothing about units (``value``, ``count``, ``n``)."""
    return words <= {"value", "count", "number", "n", "amount", "quantity", "total", "num"}


def _prop_words(name: str, spec: dict[str, Any]) -> set[str]:
    return set(content_words(_words(name) + " " + str(spec.get("description", ""))))


def fill_schema(
    schema: dict[str, Any], text: str, question: str, *, literal_only: bool
) -> tuple[dict[str, Any], list[str]]:
    """Fill a JSON object schema from values in ``text``.

    Args:
        schema: a JSON Schema of an object (``properties``, ``required``).
        text: where values come from (the user's turns for a tool; the context for JSON output).
        question: the question (a free-text ``query``-like field takes it verbatim).
        literal_only: only values present in the text (tools); else also passages (JSON output).

    Returns:
        ``(values, missing_required)``.
    """
    props: dict[str, Any] = schema.get("properties") or {}
    required = list(schema.get("required") or [])
    values = find_values(text)
    used: set[int] = set()
    out: dict[str, Any] = {}
    for name, spec in props.items():
        got = _fill_one(name, spec or {}, values, used, text, question, literal_only)
        if got is not None:
            out[name] = got
    missing = [r for r in required if r not in out]
    return out, missing


_FREE_TEXT = {"query", "question", "text", "prompt", "message", "search", "input", "topic",
              "request", "keyword", "term", "content"}  # fmt: skip
_LOCATION = {"city", "location", "place", "destination", "origin", "country", "region",
             "town", "address", "where", "airport"}  # fmt: skip
_PERSON = {"name", "customer", "person", "user", "author", "recipient", "employee", "owner"}


def _fill_one(
    name: str,
    spec: dict[str, Any],
    values: list[Value],
    used: set[int],
    text: str,
    question: str,
    literal_only: bool,
) -> Any:
    typ = spec.get("type")
    if isinstance(typ, list):
        typ = next((t for t in typ if t != "null"), "string")
    words = _prop_words(name, spec)
    if "enum" in spec:
        low = text.lower()
        hits = [e for e in spec["enum"] if str(e).lower() in low]
        if hits:
            return max(hits, key=lambda e: len(str(e)))
        return None if literal_only else None
    if typ == "object":
        sub, _ = fill_schema(spec, text, question, literal_only=literal_only)
        return sub or None
    if typ in {"integer", "number"}:
        cands = [(i, v) for i, v in enumerate(values) if v.kind == "number" and i not in used]
        if not cands:
            return None
        best = max(cands, key=lambda iv: (len(words & set(iv[1].context)), -iv[0]))
        i, v = best
        if not (words & set(v.context)):
            # a number next to another unit ("seven days" for "years") does not fill the field
            unit = [w for w in v.after if w not in _STOP and not w.isdigit()]
            if len(cands) > 1 or (unit and words and not _informal(words)):
                return None
        used.add(i)
        return int(v.value) if typ == "integer" else v.value
    if typ == "boolean":
        low = text.lower()
        for w in words:
            if re.search(rf"\b(no|not|without|don't|do not)\s+(\w+\s+)?{re.escape(w)}", low):
                return False
            if re.search(rf"\b{re.escape(w)}", low):
                return True
        return None
    if typ == "array":
        item = spec.get("items") or {"type": "string"}
        if "enum" in item:
            low = text.lower()
            hits = [e for e in item["enum"] if str(e).lower() in low]
            return hits or None
        if item.get("type") in {"integer", "number"}:
            nums = [v.value for v in values if v.kind == "number"]
            return nums or None
        return None
    # strings
    fmt = str(spec.get("format", ""))
    kinds: tuple[str, ...]
    if "email" in words or fmt == "email":
        kinds = ("email",)
    elif words & {"date", "day", "when", "time", "deadline"} or fmt.startswith("date"):
        kinds = ("date",)
    elif words & {"id", "identifier", "code", "number", "sku", "reference", "arn", "ticket"}:
        kinds = ("code", "quoted", "number")
    elif words & _LOCATION or words & _PERSON:
        kinds = ("name", "quoted")
    elif words & _FREE_TEXT:
        return question.strip() or None
    else:
        kinds = ("quoted", "name", "code")
    cands = [(i, v) for i, v in enumerate(values) if v.kind in kinds and i not in used]
    if not cands:
        return None
    if words & _LOCATION:
        preps = {"in", "at", "to", "from", "near", "for"}
        loc = [iv for iv in cands if preps & set(iv[1].context[:3])]
        cands = loc or cands
    best = max(
        cands,
        key=lambda iv: (len(words & set(iv[1].context)), kinds.index(iv[1].kind) * -1, -iv[0]),
    )
    used.add(best[0])
    return str(best[1].value)


# --------------------------------------------------------------------------- tools


def _tool_specs(tool_config: dict[str, Any] | None) -> list[dict[str, Any]]:
    return [t["toolSpec"] for t in (tool_config or {}).get("tools", []) if "toolSpec" in t]


TOOL_THRESHOLD = 0.33


def choose_tool(
    question: str, specs: list[dict[str, Any]], choice: dict[str, Any]
) -> tuple[dict[str, Any] | None, list[tuple[str, float]]]:
    """The tool to call for ``question`` (or None) and each tool's match score."""
    if not specs:
        return None, []
    from mllab.models import embeddings

    descs = [f"{_words(s['name'])}. {s.get('description', '')}" for s in specs]
    vecs = embeddings.embed([question] + descs)
    qwords = set(content_words(question))
    scores = []
    for spec, vec, desc in zip(specs, vecs[1:], descs, strict=True):
        dwords = set(content_words(desc))
        lex = len(qwords & dwords) / len(qwords) if qwords else 0.0
        scores.append((spec["name"], 0.6 * float(vec @ vecs[0]) + 0.4 * lex))
    if "tool" in choice:
        wanted = choice["tool"].get("name")
        return next((s for s in specs if s["name"] == wanted), None), scores
    best_i = max(range(len(specs)), key=lambda i: scores[i][1])
    if "any" in choice or scores[best_i][1] >= TOOL_THRESHOLD:
        return specs[best_i], scores
    return None, scores


# --------------------------------------------------------------------------- generate


def _input_text(messages: list[dict[str, Any]], system: list[dict[str, Any]] | None,
                tool_config: dict[str, Any] | None) -> str:  # fmt: skip
    parts: list[str] = []
    for block in system or []:
        parts.extend(t for _, t in _block_texts(block))
    for msg in messages:
        for block in msg.get("content", []):
            if "toolUse" in block:
                parts.append(json.dumps(block["toolUse"].get("input", {})))
                parts.append(str(block["toolUse"].get("name", "")))
            parts.extend(t for _, t in _block_texts(block))
    for spec in _tool_specs(tool_config):
        parts.append(json.dumps(spec, sort_keys=True, default=str))
    return "\n".join(parts)


def count_input_tokens(messages: list[dict[str, Any]], system: list[dict[str, Any]] | None = None,
                       tool_config: dict[str, Any] | None = None) -> int:  # fmt: skip
    """Input tokens of a Converse request (text, documents, tool results and tool specs)."""
    return tokens.count(_input_text(messages, system, tool_config))


def _check(profile: catalog.Profile, messages: list[dict[str, Any]],
           system: list[dict[str, Any]] | None, tool_config: dict[str, Any] | None,
           inference_config: dict[str, Any]) -> None:  # fmt: skip
    if profile.is_embedding:
        raise ModelInputError(
            "The provided model doesn't support this operation: it is an embedding model; "
            "call it with InvokeModel."
        )
    if not messages:
        raise ModelInputError(
            "A conversation must start with a user message. Try again with a conversation that starts with a user message."
        )
    if messages[0].get("role") != "user":
        raise ModelInputError(
            "A conversation must start with a user message. Try again with a conversation that starts with a user message."
        )
    for a, b in zip(messages, messages[1:], strict=False):
        if a.get("role") == b.get("role"):
            raise ModelInputError(
                "A conversation must alternate between user and assistant roles. Make sure the conversation alternates between user and assistant roles and try again."
            )
    if system and not profile.system:
        raise ModelInputError(
            "This model doesn't support system messages. Try again without a system message or use a model that supports system messages."
        )
    if tool_config and not profile.tools:
        raise ModelInputError("This model doesn't support tool use.")
    for msg in messages:
        for block in msg.get("content", []):
            if ("image" in block and "IMAGE" not in profile.input_modalities) or (
                "video" in block and "VIDEO" not in profile.input_modalities
            ):
                kind = "image" if "image" in block else "video"
                raise ModelInputError(
                    f"This model doesn't support the {kind} content block that you provided. Try again with a model that supports {kind} content blocks."
                )
    max_tokens = inference_config.get("maxTokens")
    if max_tokens is not None and int(max_tokens) > profile.max_output_tokens:
        raise ModelInputError(
            f"The maximum tokens you requested exceeds the model limit of "
            f"{profile.max_output_tokens}. Try again with a maximum tokens value that is lower "
            f"than {profile.max_output_tokens}."
        )
    temp = inference_config.get("temperature")
    if temp is not None and not 0 <= float(temp) <= 1:
        raise ModelInputError(f"temperature must be between 0 and 1, got {temp}.")
    top_p = inference_config.get("topP")
    if top_p is not None and not 0 <= float(top_p) <= 1:
        raise ModelInputError(f"topP must be between 0 and 1, got {top_p}.")


def generate(
    model_id: str,
    messages: list[dict[str, Any]],
    system: list[dict[str, Any]] | None = None,
    inference_config: dict[str, Any] | None = None,
    tool_config: dict[str, Any] | None = None,
    *,
    explain: bool = False,
    input_tokens: int | None = None,
) -> dict[str, Any]:
    """Answer a Converse-shaped request with the extractive stand-in model.

    Args:
        model_id: a catalogued model or inference-profile id (its profile sets the knobs).
        messages: Converse ``messages`` (``{"role": "user", "content": [{"text": ...}]}``).
        system: Converse ``system`` blocks.
        inference_config: Converse ``inferenceConfig`` (maxTokens, stopSequences,
            temperature, topP).
        tool_config: Converse ``toolConfig`` (tools, toolChoice).
        explain: add an ``"explanation"`` key with the scores behind each choice.
        input_tokens: the request's input tokens when the caller counted them already
            (:func:`count_input_tokens`); counted here otherwise.

    Returns:
        ``{"output": {"message": ...}, "stopReason": ..., "usage": {...}}``. Costs nothing
        (local computation); deletes nothing.

    Raises:
        ModelInputError: the request does not fit the model (message in Bedrock's words).
    """
    profile = catalog.profile(model_id)
    if profile is None:
        raise ModelInputError("The provided model identifier is invalid.")
    cfg = dict(inference_config or {})
    _check(profile, messages, system, tool_config, cfg)
    if input_tokens is None:
        input_tokens = count_input_tokens(messages, system, tool_config)
    if input_tokens > profile.context_window:
        raise ModelInputError(
            f"Input is too long for requested model. The request has {input_tokens} input "
            f"tokens; {profile.model_id} accepts at most {profile.context_window}."
        )
    req = parse_request(messages, system)
    rng = _rng(req.seed_material, cfg)
    explanation: dict[str, Any] = {"question": req.question, "task": req.task}
    content: list[dict[str, Any]]
    stop = "end_turn"

    specs = _tool_specs(tool_config)
    tool = None
    if specs and not req.tool_results:
        choice = (tool_config or {}).get("toolChoice") or {"auto": {}}
        tool, tool_scores = choose_tool(req.question or req.user_text, specs, choice)
        explanation["tool_scores"] = tool_scores
        asked = _asked_for(messages)
        if tool is None and asked and "tool" not in choice:
            # the user answers the stand-in's own question for a tool's missing fields
            tool = next((t for t in specs if t["name"] == asked), None)
    if tool is not None:
        schema = (tool.get("inputSchema") or {}).get("json") or {"type": "object"}
        if isinstance(schema, str):
            schema = json.loads(schema)
        user_text = _user_turns(messages)
        filled, missing = fill_schema(schema, user_text, req.question, literal_only=True)
        explanation["tool_input"] = filled
        if missing:
            props = schema.get("properties") or {}
            asks = "; ".join(
                f"{m} ({props[m]['description']})" if (props.get(m) or {}).get("description") else m
                for m in missing
            )
            text = f"To use {tool['name']} I need: {asks}. Please provide {'it' if len(missing) == 1 else 'them'}."
            content = [{"text": text}]
        else:
            tool_id = (
                "tooluse_"
                + hashlib.sha256((req.seed_material + tool["name"]).encode()).hexdigest()[:22]
            )
            content = [{"toolUse": {"toolUseId": tool_id, "name": tool["name"], "input": filled}}]
            stop = "tool_use"
    else:
        text = _answer(req, profile, cfg, rng, explanation)
        content = [{"text": text}]

    # stop sequences and maxTokens act on the text the model emits
    stop_fields: dict[str, Any] | None = None
    if content and "text" in content[0]:
        text = content[0]["text"]
        max_tokens = int(cfg.get("maxTokens") or profile.max_output_tokens)
        cut_at, hit = None, None
        for seq in cfg.get("stopSequences") or []:
            idx = text.find(seq) if seq else -1
            if idx >= 0 and (cut_at is None or idx < cut_at):
                cut_at, hit = idx, seq
        if cut_at is not None and tokens.count(text[:cut_at]) <= max_tokens:
            text, stop = text[:cut_at], "stop_sequence"
            stop_fields = {"stop_sequence": hit}
        elif tokens.count(text) > max_tokens:
            text, stop = tokens.truncate(text, max_tokens), "max_tokens"
        content[0]["text"] = text
        output_tokens = tokens.count(text)
    else:
        use = content[0]["toolUse"]
        output_tokens = tokens.count(use["name"] + json.dumps(use["input"]))
        max_tokens = int(cfg.get("maxTokens") or profile.max_output_tokens)
        if output_tokens > max_tokens:  # a tool call cut short is not a tool call
            content = [{"text": tokens.truncate(json.dumps(use["input"]), max_tokens)}]
            output_tokens, stop = tokens.count(content[0]["text"]), "max_tokens"
    result: dict[str, Any] = {
        "output": {"message": {"role": "assistant", "content": content}},
        "stopReason": stop,
        "usage": {
            "inputTokens": input_tokens,
            "outputTokens": output_tokens,
            "totalTokens": input_tokens + output_tokens,
        },
    }
    if stop_fields:
        result["additionalModelResponseFields"] = stop_fields
    if explain:
        result["explanation"] = explanation
    return result


def _asked_for(messages: list[dict[str, Any]]) -> str | None:
    """The tool named by the previous assistant turn when it asked for missing fields."""
    if len(messages) < 2 or messages[-2].get("role") != "assistant":
        return None
    for block in messages[-2].get("content", []):
        m = re.match(r"To use (\S+) I need: ", str(block.get("text", "")))
        if m:
            return m.group(1)
    return None


def _user_turns(messages: list[dict[str, Any]]) -> str:
    parts = []
    for m in messages:
        if m.get("role") == "user":
            for b in m.get("content", []):
                if "text" in b:
                    parts.append(str(b["text"]))
    return "\n".join(parts)


def _answer(req: Request, profile: catalog.Profile, cfg: dict[str, Any],
            rng: np.random.Generator, explanation: dict[str, Any]) -> str:  # fmt: skip
    ins = parse_instructions(req.instructions)
    explanation["instructions"] = ins.__dict__.copy()
    passages = req.passages
    tool_p = [p for p in passages if p.source.startswith("tool:")]
    if req.tool_results and tool_p:  # answer from the result: it was fetched for the question
        passages = tool_p
    if not req.question.strip() and req.task != "summarize":
        return NO_QUESTION
    k = max(1, profile.max_passages)
    if ins.max_sentences:
        k = min(k, ins.max_sentences)
    temperature = float(cfg.get("temperature", 0.0) or 0.0)
    top_p = float(cfg.get("topP", 1.0) if cfg.get("topP") is not None else 1.0)

    if req.task == "summarize":
        chosen = _central(passages, k)
    else:
        score_passages(req.question, passages)
        threshold = profile.min_relevance
        if req.tool_results and tool_p:
            threshold = -1.0  # every line of a tool's result answers the call made for it
            k = max(k, min(len(passages), 8))
        cands = [p for p in passages if p.score >= threshold]
        chosen = choose(cands, k, temperature, top_p, rng)
        if ins.language and ins.language != "en" and chosen:
            chosen = _in_language(chosen, passages, ins.language) or chosen
        explanation["scores"] = [
            {"text": p.text, "source": p.source, "score": round(p.score, 4),
             "semantic": round(p.semantic, 4), "lexical": round(p.lexical, 4)}
            for p in sorted(passages, key=lambda p: -p.score)[:10]
        ]  # fmt: skip
        explanation["threshold"] = threshold
    chosen = sorted(chosen, key=lambda p: p.order)
    explanation["chosen"] = [p.text for p in chosen]

    if ins.json_schema is not None:
        context = " ".join(p.text for p in chosen) if chosen else ""
        obj = _json_answer(ins.json_schema, chosen, context, req)
        return json.dumps(obj)
    if not chosen:
        return CANNOT_ANSWER
    sentences = [p.text if p.text.endswith((".", "!", "?", ":")) else p.text + "." for p in chosen]
    prefix = ""
    if ins.language and ins.language != "en":
        langs = {detect_language(s) for s in sentences}
        if langs != {ins.language}:
            prefix = (
                f"I can only answer in English: the context holds no text in "
                f"{LANGUAGES[ins.language]} that answers this. "
            )
    if ins.max_sentences:
        sentences = sentences[: ins.max_sentences]
    text = "\n".join(f"- {s}" for s in sentences) if ins.bullets else " ".join(sentences)
    if ins.max_words:
        text = _limit_words(text, ins.max_words)
    return prefix + text


LANGUAGE_ALIGNMENT = 0.2


def _in_language(chosen: list[Passage], passages: list[Passage], language: str) -> list[Passage]:
    """The context sentences in ``language`` closest to each chosen (English) passage.

    The stand-in cannot translate: it answers in another language only by quoting a sentence
    of the context in that language whose embedding is close to the passage it would have
    answered with (at least :data:`LANGUAGE_ALIGNMENT` cosine).
    """
    from mllab.models import embeddings

    in_lang = [p for p in passages if detect_language(p.text) == language]
    if not in_lang:
        return []
    vecs = embeddings.embed([p.text for p in chosen] + [p.text for p in in_lang])
    sims = vecs[len(chosen) :] @ vecs[: len(chosen)].T  # (in_lang, chosen)
    out: list[Passage] = []
    for j in range(len(chosen)):
        i = int(np.argmax(sims[:, j]))
        if sims[i, j] >= LANGUAGE_ALIGNMENT and in_lang[i] not in out:
            out.append(in_lang[i])
    return out


def _central(passages: list[Passage], k: int) -> list[Passage]:
    """The ``k`` passages closest to the centroid of all passages (extractive summary)."""
    if not passages:
        return []
    from mllab.models import embeddings

    vecs = embeddings.embed([p.text for p in passages])
    centroid = vecs.mean(axis=0)
    norm = float(np.linalg.norm(centroid)) or 1.0
    sims = vecs @ (centroid / norm)
    for p, s in zip(passages, sims, strict=True):
        p.score = float(s)
    return sorted(passages, key=lambda p: (-p.score, p.order))[:k]


def _json_answer(schema: dict[str, Any], chosen: list[Passage], context: str,
                 req: Request) -> dict[str, Any]:  # fmt: skip
    props: dict[str, Any] = schema.get("properties") or {"answer": {"type": "string"}}
    answer_text = " ".join(p.text for p in chosen) or CANNOT_ANSWER
    out: dict[str, Any] = {}
    filled, _ = fill_schema({"properties": props}, context, req.question, literal_only=False)
    for name, spec in props.items():
        spec = spec or {}
        typ = spec.get("type")
        if isinstance(typ, list):
            typ = next((t for t in typ if t != "null"), "string")
        words = _prop_words(name, spec)
        if name in filled and typ != "string":
            out[name] = filled[name]
        elif typ == "array" and (spec.get("items") or {}).get("type", "string") == "string":
            out[name] = [p.text for p in chosen]
        elif typ in {None, "string"} and "enum" not in spec:
            if (
                words & {"answer", "response", "summary", "result", "text", "explanation", "reason"}
                or not chosen
            ):
                out[name] = answer_text
            elif name in filled:
                out[name] = filled[name]
            else:
                out[name] = answer_text
        elif "enum" in spec:
            out[name] = filled.get(name, _closest_enum(spec["enum"], answer_text))
        elif typ == "boolean":
            out[name] = bool(chosen)
        else:
            out[name] = filled.get(name)
    return out


def _closest_enum(options: Sequence[Any], text: str) -> Any:
    from mllab.models import embeddings

    if not options:
        return None
    vecs = embeddings.embed([text] + [str(o) for o in options])
    sims = vecs[1:] @ vecs[0]
    return options[int(np.argmax(sims))]


def latency_ms(model_id: str, output_tokens: int) -> float:
    """The modelled service latency of ``model_id`` for ``output_tokens`` (see the catalogue)."""
    prof = catalog.profile(model_id)
    return 0.0 if prof is None else prof.latency_ms(output_tokens)


__all__ = [
    "CANNOT_ANSWER",
    "ModelInputError",
    "count_input_tokens",
    "generate",
    "latency_ms",
]
