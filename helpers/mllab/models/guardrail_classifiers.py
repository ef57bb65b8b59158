"""The offline classifiers behind Amazon Bedrock Guardrails: transparent, documented, local.

AWS runs trained classifiers for each guardrail policy. None ships in a package we can
install, so the offline plane computes each policy's verdict with a *transparent* method a
learner can read and argue with. The API emulation (:mod:`mllab.offline.bedrock.guardrails`)
calls these functions; they know nothing about requests or responses.

Policies and how they are computed offline
-----------------------------------------
* **Word filters** (:func:`find_words`): exact, case-insensitive matching of a word or phrase on
  word boundaries, as AWS matches custom words. "cat" does not match "category"; "Cat!" does.
* **Managed profanity list** (:func:`find_profanity`): the same exact matching against a small
  English list written for this project (``data/guardrail_lexicons.json``), not AWS's list.
* **Sensitive information** (:func:`find_pii`): regular expressions with validators (Luhn for
  card numbers and Canadian SINs, ABA checksum for routing numbers, mod-97 for IBANs, mod-11
  for NHS numbers, the check digit of North American VINs, area/group rules of SSNs). Types
  AWS finds from context alone (bank account, passport, PIN, password, username, driver ID,
  licence plate, CVV, expiry, AGE, tax references, Canadian health number) are found only
  next to a keyword ("account number", "passport", "PIN", "password:", "aged 34", ...).
  **NAME and ADDRESS need a named-entity model and are not detected offline**
  (:data:`NOT_DETECTED_OFFLINE`); the API reports them in every assessment and warns on create.
* **Custom regexes** (:func:`find_regex`): Python's ``re`` (AWS uses Java-style regexes; the
  common syntax agrees, possessive quantifiers and some classes do not).
* **Denied topics** (:func:`topic_score`): the text is split into sentences; each sentence (and
  the whole text) is embedded with :mod:`mllab.models.embeddings` and compared by cosine with the
  topic's name, definition and each example. The score is the highest cosine; a topic is detected at
  :data:`TOPIC_THRESHOLD` or above. AWS uses a trained model that reads the definition; offline a
  topic is only as good as its definition and examples, and negation ("I don't want investment
  advice") is not understood.
* **Content filters** (:func:`content_scores`): for HATE, INSULTS, SEXUAL, VIOLENCE and MISCONDUCT a
  weighted lexicon (each term a weight of 0.3, 0.55 or 0.8) combined by noisy-OR,
  ``1 - prod(1 - w)``, plus patterns: a group term next to a hateful term (HATE), a second-person
  target ("you ...") next to an insult (INSULTS), a person next to a violent word and threats in the
  first person (VIOLENCE), "how do I
  <crime>" requests (MISCONDUCT). PROMPT_ATTACK adds patterns for instruction override ("ignore
  previous instructions"), system-prompt extraction, role-play jailbreaks ("pretend you have no
  rules", DAN, developer mode) and injected role markers. The score maps to AWS's confidence:
  below 0.25 NONE, 0.25 LOW, 0.5 MEDIUM, 0.75 HIGH (:func:`confidence`). As on AWS, a filter of
  strength HIGH blocks LOW, MEDIUM and HIGH confidence; MEDIUM blocks MEDIUM and HIGH; LOW blocks
  HIGH only; NONE blocks nothing (:func:`blocks`). No context or sarcasm is understood; a quoted
  slur in a news report scores as the slur does.
* **Contextual grounding and relevance** (:func:`grounding_score`, :func:`relevance_score`): the
  response is split into sentences; each sentence's support is ``0.5 * max cosine to a source
  sentence + 0.5 * share of its content words (and all its numbers) found in the source``; a
  sentence stating a number absent from the source is capped at 0.3. The response's grounding is
  ``0.5 * mean + 0.5 * min`` of its sentences' support, so one unsupported sentence lowers it.
  Relevance is ``0.6 * cosine(response, query) + 0.4 * share of the query's content words in the
  response``. Both are clipped to 0..1 and rounded to two decimals, and compared with AWS's
  thresholds (0 to 0.99): below the threshold is flagged. AWS uses a trained model; this one is
  lexical and bag-of-words, so a paraphrase with new words scores lower than it should, and a
  response that reuses the source's words in a false combination scores higher.

Introduced in lab 06 (responsible generative AI: guardrails); the measured precision and recall
of each filter on the project's labelled examples are in ``docs/bedrock-guardrails.md``.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

#: Cosine at or above which a sentence is about a denied topic (calibrated on the labelled
#: examples in ``tests/models/test_guardrail_classifiers.py``; see docs/bedrock-guardrails.md).
TOPIC_THRESHOLD = 0.3

#: Content-filter categories, as AWS names them.
CONTENT_TYPES = ("HATE", "INSULTS", "SEXUAL", "VIOLENCE", "MISCONDUCT", "PROMPT_ATTACK")

#: Lower bounds of the confidence levels on the 0..1 score.
CONFIDENCE_BOUNDS = (("HIGH", 0.75), ("MEDIUM", 0.5), ("LOW", 0.25))

_LEVEL = {"NONE": 0, "LOW": 1, "MEDIUM": 2, "HIGH": 3}

#: The GuardrailPiiEntityType values that need a named-entity model: never detected offline.
NOT_DETECTED_OFFLINE = frozenset({"NAME", "ADDRESS"})

#: Types found only next to a context keyword (documented approximation).
CONTEXT_ONLY = frozenset(
    {
        "AGE",
        "CA_HEALTH_NUMBER",
        "CREDIT_DEBIT_CARD_CVV",
        "CREDIT_DEBIT_CARD_EXPIRY",
        "DRIVER_ID",
        "LICENSE_PLATE",
        "PASSWORD",
        "PIN",
        "UK_UNIQUE_TAXPAYER_REFERENCE_NUMBER",
        "USERNAME",
        "US_BANK_ACCOUNT_NUMBER",
        "US_PASSPORT_NUMBER",
        "CA_SOCIAL_INSURANCE_NUMBER",
        "US_BANK_ROUTING_NUMBER",
        "SWIFT_CODE",
    }
)


@cache
def _lexicons() -> dict[str, Any]:
    text = resources.files("mllab.models").joinpath("data/guardrail_lexicons.json").read_text()
    return dict(json.loads(text))


@dataclass(frozen=True)
class Span:
    """One finding in a text.

    Attributes:
        type: the entity type, word, topic or regex name.
        match: the text matched.
        start: offset of the first character.
        end: offset after the last character.
    """

    type: str
    match: str
    start: int
    end: int


# --------------------------------------------------------------------------- words


def _phrase_regex(phrase: str) -> re.Pattern[str]:
    words = [re.escape(w) for w in phrase.split()]
    return re.compile(r"(?<!\w)" + r"\s+".join(words) + r"(?!\w)", re.IGNORECASE)


def find_words(text: str, words: Iterable[str]) -> list[Span]:
    """Exact, case-insensitive word or phrase matches on word boundaries.

    Args:
        text: the text to search.
        words: the words or phrases (AWS allows up to three words each).

    Returns:
        One :class:`Span` per match (``type`` is the configured word), in text order.
        Costs nothing; deletes nothing.
    """
    out: list[Span] = []
    for word in words:
        if not word.strip():
            continue
        for m in _phrase_regex(word).finditer(text):
            out.append(Span(word, m.group(0), m.start(), m.end()))
    return sorted(out, key=lambda s: s.start)


def profanity_list() -> list[str]:
    """The managed profanity list shipped with mllab (English, written for this project)."""
    return list(_lexicons()["profanity"])


def find_profanity(text: str) -> list[Span]:
    """Matches of the managed profanity list (exact word matching, case-insensitive).

    Args:
        text: the text to search.

    Returns:
        The matches, type ``"PROFANITY"``. Costs nothing; deletes nothing.
    """
    return [Span("PROFANITY", s.match, s.start, s.end) for s in find_words(text, profanity_list())]


# --------------------------------------------------------------------------- PII


def _luhn(digits: str) -> bool:
    total, alt = 0, False
    for ch in reversed(digits):
        d = int(ch)
        if alt:
            d *= 2
            if d > 9:
                d -= 9
        total += d
        alt = not alt
    return total % 10 == 0


def _only_digits(s: str) -> str:
    return re.sub(r"\D", "", s)


def _card_ok(s: str) -> bool:
    d = _only_digits(s)
    return 13 <= len(d) <= 19 and _luhn(d)


def _ssn_ok(s: str) -> bool:
    d = _only_digits(s)
    area, group, serial = d[:3], d[3:5], d[5:]
    return area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000"


def _itin_ok(s: str) -> bool:
    d = _only_digits(s)
    return d[0] == "9" and (70 <= int(d[3:5]) <= 88 or 90 <= int(d[3:5]) <= 99)


def _aba_ok(s: str) -> bool:
    d = [int(c) for c in _only_digits(s)]
    if len(d) != 9:
        return False
    return (3 * (d[0] + d[3] + d[6]) + 7 * (d[1] + d[4] + d[7]) + (d[2] + d[5] + d[8])) % 10 == 0


def _iban_ok(s: str) -> bool:
    t = re.sub(r"\s", "", s).upper()
    moved = t[4:] + t[:4]
    num = "".join(str(int(c, 36)) for c in moved)
    return len(t) >= 15 and int(num) % 97 == 1


def _nhs_ok(s: str) -> bool:
    d = [int(c) for c in _only_digits(s)]
    if len(d) != 10:
        return False
    check = 11 - sum(d[i] * (10 - i) for i in range(9)) % 11
    check = 0 if check == 11 else check
    return check != 10 and check == d[9]


def _sin_ok(s: str) -> bool:
    d = _only_digits(s)
    return len(d) == 9 and _luhn(d)


_VIN_VALUES = {
    **{str(i): i for i in range(10)},
    **dict(zip("ABCDEFGH", range(1, 9), strict=True)),
    **dict(zip("JKLMN", range(1, 6), strict=True)),
    "P": 7,
    "R": 9,
    **dict(zip("STUVWXYZ", range(2, 10), strict=True)),
}
_VIN_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)


def _vin_ok(s: str) -> bool:
    v = s.upper()
    if len(v) != 17 or not re.search(r"\d", v) or not re.search(r"[A-Z]", v):
        return False
    total = sum(_VIN_VALUES[c] * w for c, w in zip(v, _VIN_WEIGHTS, strict=True))
    check = "X" if total % 11 == 10 else str(total % 11)
    return v[8] == check


def _ipv4_ok(s: str) -> bool:
    return all(0 <= int(p) <= 255 and (p == "0" or not p.startswith("0")) for p in s.split("."))


_KW = r"(?:\s*(?:number|no\.?|#|num)?\s*(?:is|:|=|-)?\s*)"

#: type -> (regex, validator or None, group holding the value). Order matters: earlier types
#: claim their span first (an AWS access key is not also a password).
_PII: list[tuple[str, re.Pattern[str], Any, int]] = [
    (
        "EMAIL",
        re.compile(
            r"(?<![\w.+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
        ),
        None,
        0,
    ),
    ("URL", re.compile(r"\b(?:https?://|www\.)[^\s<>\"']+[^\s<>\"'.,;:!?)]", re.I), None, 0),
    ("AWS_ACCESS_KEY", re.compile(r"\b(?:AKIA|ASIA|AIDA|AROA|ANPA)[A-Z0-9]{16}\b"), None, 0),
    (
        "AWS_SECRET_KEY",
        re.compile(
            r"(?<![A-Za-z0-9/+])(?=[A-Za-z0-9/+]*[0-9])(?=[A-Za-z0-9/+]*[a-z])"
            r"(?=[A-Za-z0-9/+]*[A-Z])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])"
        ),
        None,
        0,
    ),
    (
        "INTERNATIONAL_BANK_ACCOUNT_NUMBER",
        re.compile(r"\b[A-Z]{2}\d{2}(?:\s?[A-Z0-9]{4}){2,7}(?:\s?[A-Z0-9]{1,4})?\b"),
        _iban_ok,
        0,
    ),
    (
        "CREDIT_DEBIT_CARD_NUMBER",
        re.compile(r"(?<![\d-])(?:\d[ -]?){12,18}\d(?![\d-])"),
        _card_ok,
        0,
    ),
    (
        "US_INDIVIDUAL_TAX_IDENTIFICATION_NUMBER",
        re.compile(r"(?<![\d-])9\d{2}-[7-9]\d-\d{4}(?![\d-])"),
        _itin_ok,
        0,
    ),
    (
        "US_SOCIAL_SECURITY_NUMBER",
        re.compile(r"(?<![\d-])\d{3}-\d{2}-\d{4}(?![\d-])|(?i:\bssn\b" + _KW + r")(\d{9})\b"),
        _ssn_ok,
        0,
    ),
    (
        "UK_NATIONAL_INSURANCE_NUMBER",
        re.compile(r"\b[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z]\s?\d{2}\s?\d{2}\s?\d{2}\s?[A-D]\b"),
        None,
        0,
    ),
    (
        "UK_NATIONAL_HEALTH_SERVICE_NUMBER",
        re.compile(r"(?<![\d-])\d{3}[ -]?\d{3}[ -]?\d{4}(?![\d-])"),
        _nhs_ok,
        0,
    ),
    (
        "MAC_ADDRESS",
        re.compile(
            r"\b[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){5}\b|\b[0-9A-Fa-f]{2}(?:-[0-9A-Fa-f]{2}){5}\b"
        ),
        None,
        0,
    ),
    (
        "IP_ADDRESS",
        re.compile(
            r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])"
            r"|(?<![\w:])(?:[0-9A-Fa-f]{1,4}:){7}[0-9A-Fa-f]{1,4}(?![\w:])"
            r"|(?<![\w:])(?:[0-9A-Fa-f]{1,4}:){1,6}:(?:[0-9A-Fa-f]{1,4}:?){0,5}[0-9A-Fa-f]{1,4}(?![\w:])"
        ),
        lambda s: ":" in s or _ipv4_ok(s),
        0,
    ),
    (
        "VEHICLE_IDENTIFICATION_NUMBER",
        re.compile(r"\b[A-HJ-NPR-Z0-9]{17}\b", re.I),
        _vin_ok,
        0,
    ),
    (
        "PHONE",
        re.compile(
            r"(?<![\w+])(?:\+?1[ .-]?)?(?:\(\d{3}\)|\d{3})[ .-]?\d{3}[ .-]\d{4}(?!\d)"
            r"|(?<![\w+])\+\d{1,3}[ .-]?(?:\(?\d{1,4}\)?[ .-]?){2,4}\d{2,4}(?!\d)"
        ),
        lambda s: 10 <= len(_only_digits(s)) <= 15,
        0,
    ),
    # --- context-keyword types (the keyword must be next to the value)
    (
        "US_BANK_ROUTING_NUMBER",
        re.compile(r"(?i:\b(?:routing|aba|rtn)" + _KW + r")(\d{9})\b"),
        _aba_ok,
        1,
    ),
    (
        "US_BANK_ACCOUNT_NUMBER",
        re.compile(r"(?i:\b(?:bank )?account" + _KW + r")(\d{8,17})\b"),
        None,
        1,
    ),
    (
        "CA_SOCIAL_INSURANCE_NUMBER",
        re.compile(r"(?i:\b(?:sin|social insurance)" + _KW + r")(\d{3}[ -]?\d{3}[ -]?\d{3})\b"),
        _sin_ok,
        1,
    ),
    (
        "CA_HEALTH_NUMBER",
        re.compile(
            r"(?i:\b(?:health card|ohip|health number)" + _KW + r")(\d{4}[ -]?\d{3}[ -]?\d{3})\b"
        ),
        None,
        1,
    ),
    (
        "UK_UNIQUE_TAXPAYER_REFERENCE_NUMBER",
        re.compile(r"(?i:\b(?:utr|unique taxpayer reference)" + _KW + r")(\d{5} ?\d{5})\b"),
        None,
        1,
    ),
    (
        "US_PASSPORT_NUMBER",
        re.compile(r"(?i:\bpassport" + _KW + r")([A-Z]?\d{8,9})\b"),
        None,
        1,
    ),
    (
        "SWIFT_CODE",
        re.compile(
            r"(?i:\b(?:swift|bic)(?:\s*code)?" + _KW + r")([A-Z]{6}[A-Z0-9]{2}(?:[A-Z0-9]{3})?)\b"
        ),
        None,
        1,
    ),
    (
        "DRIVER_ID",
        re.compile(r"(?i:\bdriver'?s? licen[cs]e" + _KW + r")([A-Z0-9-]{5,20})\b"),
        lambda s: bool(re.search(r"\d", s)),
        1,
    ),
    (
        "LICENSE_PLATE",
        re.compile(
            r"(?i:\b(?:licen[cs]e|number) plate" + _KW + r")([A-Z0-9]{1,4}[ -]?[A-Z0-9]{1,4})\b"
        ),
        lambda s: bool(re.search(r"\d", s)),
        1,
    ),
    (
        "CREDIT_DEBIT_CARD_CVV",
        re.compile(r"(?i:\b(?:cvv2?|cvc|security code)" + _KW + r")(\d{3,4})\b"),
        None,
        1,
    ),
    (
        "CREDIT_DEBIT_CARD_EXPIRY",
        re.compile(
            r"(?i:\b(?:exp(?:iry|iration)?(?: date)?|expires|valid thru)"
            + _KW
            + r")((?:0[1-9]|1[0-2])/(?:\d{2}|\d{4}))\b"
        ),
        None,
        1,
    ),
    ("PIN", re.compile(r"(?i:\bpin(?:\s*code)?" + _KW + r")(\d{4,8})\b"), None, 1),
    (
        "PASSWORD",
        re.compile(r"(?i:\b(?:password|passwd|pwd|passcode)\s*(?:is|:|=)\s*)(\S{4,64})"),
        None,
        1,
    ),
    (
        "USERNAME",
        re.compile(r"(?i:\b(?:username|user name|user id|login)\s*(?:is|:|=)\s*)([\w.@-]{3,64})"),
        None,
        1,
    ),
    (
        "AGE",
        re.compile(
            r"(?i)\b(\d{1,3})(?= years? old\b|-year-old\b)|(?i:\b(?:aged?|age is|age:)\s*)(\d{1,3})\b"
        ),
        lambda s: 0 < int(s) < 130,
        -1,
    ),
]

#: The PII entity types found by patterns offline.
DETECTED_OFFLINE = frozenset(t for t, *_ in _PII)


def find_pii(text: str, types: Iterable[str]) -> list[Span]:
    """Find PII of the given entity types by pattern (see the module docstring).

    Args:
        text: the text to search.
        types: GuardrailPiiEntityType values; NAME and ADDRESS are ignored (not detected offline).

    Returns:
        Non-overlapping :class:`Span` s in text order (an earlier type in the pattern table wins an
        overlap). Costs nothing; deletes nothing.
    """
    wanted = set(types)
    taken: list[tuple[int, int]] = []
    out: list[Span] = []
    for etype, rx, ok, _group in _PII:
        if etype not in wanted:
            continue
        for m in rx.finditer(text):
            # the value is the first group that matched (after a context keyword), else all
            g = next((i for i in range(1, (rx.groups or 0) + 1) if m.group(i)), 0)
            value, start, end = m.group(g), m.start(g), m.end(g)
            if not value or (ok is not None and not ok(value)):
                continue
            if any(start < e and s < end for s, e in taken):
                continue
            taken.append((start, end))
            out.append(Span(etype, value, start, end))
    return sorted(out, key=lambda s: s.start)


def find_regex(text: str, name: str, pattern: str) -> list[Span]:
    """Matches of a custom regex (Python ``re`` syntax), typed with the regex's name.

    Args:
        text: the text to search.
        name: the regex filter's name (used as the ``{name}`` placeholder when anonymizing).
        pattern: the regular expression.

    Returns:
        One :class:`Span` per non-empty match. Costs nothing; deletes nothing.
    """
    return [
        Span(name, m.group(0), m.start(), m.end())
        for m in re.finditer(pattern, text)
        if m.end() > m.start()
    ]


def anonymize(text: str, spans: Sequence[Span]) -> str:
    """Replace each span with ``{TYPE}`` (AWS's placeholder), e.g. ``{EMAIL}``.

    Args:
        text: the original text.
        spans: what to mask; overlapping spans keep the first (by start).

    Returns:
        The masked text. Costs nothing; deletes nothing.
    """
    out, pos = [], 0
    for s in sorted(spans, key=lambda s: (s.start, -s.end)):
        if s.start < pos:
            continue
        out.append(text[pos : s.start])
        out.append("{" + s.type + "}")
        pos = s.end
    out.append(text[pos:])
    return "".join(out)


# --------------------------------------------------------------------------- sentences


_SENT = re.compile(r"(?<=[.!?])\s+|\n+")


def sentences(text: str) -> list[str]:
    """Split text into sentences (on ``. ! ?`` followed by space, and on newlines)."""
    return [s.strip() for s in _SENT.split(text) if s and s.strip()]


# --------------------------------------------------------------------------- topics


def topic_score(text: str, definition: str, examples: Sequence[str] = (), name: str = "") -> float:
    """How strongly the text is about a topic: the highest cosine of any of its sentences (or the
    whole text) with the topic's name, definition or an example.

    Args:
        text: the text to judge.
        definition: the topic's definition.
        examples: the topic's example phrases (more examples, better recall).
        name: the topic's name (e.g. "Investment advice"), used as one more prototype.

    Returns:
        The score in ``[-1, 1]``; detected at :data:`TOPIC_THRESHOLD`. Costs nothing; deletes nothing.
    """
    from mllab.models import embeddings

    units = sentences(text)
    if len(units) != 1:
        units = [*units, text]
    protos = [definition, *[e for e in examples if e.strip()], *([name] if name.strip() else [])]
    if not text.strip():
        return 0.0
    v = embeddings.embed([*units, *protos])
    sims = v[: len(units)] @ v[len(units) :].T
    return float(sims.max())


# --------------------------------------------------------------------------- content


@cache
def _term_regex(term: str) -> re.Pattern[str]:
    prefix = term.endswith("*")
    body = term[:-1] if prefix else term
    words = [re.escape(w) for w in body.split()]
    tail = r"\w*" if prefix else ""
    return re.compile(r"(?<!\w)" + r"\s+".join(words) + tail + r"(?!\w)", re.IGNORECASE)


def _noisy_or(weights: Iterable[float]) -> float:
    p = 1.0
    for w in weights:
        p *= 1.0 - w
    return 1.0 - p


@dataclass(frozen=True)
class ContentScore:
    """One content filter's verdict on a text.

    Attributes:
        type: the category.
        score: 0..1, the noisy-OR of the evidence.
        confidence: NONE, LOW, MEDIUM or HIGH (see :func:`confidence`).
        evidence: the terms and patterns that fired, for explaining the verdict.
    """

    type: str
    score: float
    confidence: str
    evidence: tuple[str, ...]


def confidence(score: float) -> str:
    """Map a 0..1 score to AWS's confidence level (0.25 LOW, 0.5 MEDIUM, 0.75 HIGH)."""
    for level, bound in CONFIDENCE_BOUNDS:
        if score >= bound:
            return level
    return "NONE"


def blocks(strength: str, level: str) -> bool:
    """True when a filter of ``strength`` acts on content of confidence ``level`` (as on AWS:
    HIGH strength acts on LOW and up, MEDIUM on MEDIUM and up, LOW on HIGH only, NONE never)."""
    if strength == "NONE" or level == "NONE":
        return False
    return _LEVEL[level] >= 4 - _LEVEL[strength]


def _score_category(category: str, text: str) -> ContentScore:
    spec = _lexicons()["content"][category]
    lowered = text.lower()
    evidence: list[tuple[str, float]] = []
    for term, w in spec.get("terms", {}).items():
        if _term_regex(term).search(text):
            evidence.append((term, float(w)))
    pattern_keys = ("patterns", "threat_patterns", "howto_patterns")
    for key in pattern_keys:
        for pat, w in spec.get(key, {}).items():
            if re.search(pat, lowered, re.IGNORECASE | re.MULTILINE):
                evidence.append((f"pattern:{pat[:40]}", float(w)))
    if category == "HATE" and evidence:
        groups = [g for g in spec["groups"] if _term_regex(g).search(text)]
        if groups:
            evidence.append((f"group:{groups[0]}", float(spec["group_boost"])))
    if category == "VIOLENCE" and evidence:
        # a person right after a violent word ("shoot everyone", "kill him"): up to two words apart
        after = r"\W+(?:\w+\W+){0,2}?(?:" + "|".join(map(re.escape, spec["targets"])) + r")\b"
        for term in spec["terms"]:
            if re.search(_term_regex(term).pattern + after, text, re.IGNORECASE):
                evidence.append((f"target after {term}", float(spec["target_boost"])))
                break
    if category == "INSULTS" and evidence:
        if re.search(r"\b(?:you|you're|you are|ur|your)\b", lowered):
            evidence.append(("second-person target", float(spec["second_person_boost"])))
    score = round(_noisy_or(w for _, w in evidence), 4)
    return ContentScore(category, score, confidence(score), tuple(t for t, _ in evidence))


def content_scores(text: str, categories: Iterable[str] = CONTENT_TYPES) -> dict[str, ContentScore]:
    """Score a text on each content-filter category.

    Args:
        text: the text to judge.
        categories: the categories wanted (default all six).

    Returns:
        ``{category: ContentScore}``. Costs nothing; deletes nothing.
    """
    return {c: _score_category(c, text) for c in categories}


# --------------------------------------------------------------------------- grounding


_WORD = re.compile(r"[A-Za-z][A-Za-z'-]*|\d+(?:[.,]\d+)*%?")


def _content_words(text: str) -> list[str]:
    stop = set(_lexicons()["stopwords"])
    return [w for w in (m.group(0).lower() for m in _WORD.finditer(text)) if w not in stop]


def _stem(w: str) -> str:
    for suf in ("ing", "ed", "es", "s"):
        if len(w) > len(suf) + 2 and w.endswith(suf):
            return w[: -len(suf)]
    return w


def _is_number(w: str) -> bool:
    return w[0].isdigit()


def _lexical_support(sentence: str, source_words: set[str]) -> tuple[float, bool]:
    words = _content_words(sentence)
    if not words:
        return 1.0, False
    found = [(_stem(w) in source_words) for w in words]
    missing_number = any(_is_number(w) and not f for w, f in zip(words, found, strict=True))
    return sum(found) / len(found), missing_number


def grounding_score(response: str, source: str) -> float:
    """How well the response is supported by the grounding source (see the module docstring).

    Args:
        response: the model's answer.
        source: the grounding source (reference text, retrieved passages).

    Returns:
        A score in 0..1, two decimals; AWS flags a response scoring below the threshold.
        Costs nothing; deletes nothing.
    """
    from mllab.models import embeddings

    resp = sentences(response)
    src = sentences(source)
    if not resp:
        return 1.0
    if not src:
        return 0.0
    source_words = {_stem(w) for w in _content_words(source)}
    v = embeddings.embed([*resp, *src])
    sims = (v[: len(resp)] @ v[len(resp) :].T).max(axis=1)
    support = []
    for sent, sim in zip(resp, sims, strict=True):
        lex, missing_number = _lexical_support(sent, source_words)
        s = 0.5 * max(float(sim), 0.0) + 0.5 * lex
        if missing_number:
            s = min(s, 0.3)
        support.append(s)
    score = 0.5 * (sum(support) / len(support)) + 0.5 * min(support)
    return round(min(max(score, 0.0), 1.0), 2)


def relevance_score(response: str, query: str) -> float:
    """How relevant the response is to the query (see the module docstring).

    Args:
        response: the model's answer.
        query: the user's question.

    Returns:
        A score in 0..1, two decimals. Costs nothing; deletes nothing.
    """
    from mllab.models import embeddings

    if not response.strip() or not query.strip():
        return 0.0
    v = embeddings.embed([response, query])
    cos = max(embeddings.cosine(v[0], v[1]), 0.0)
    qwords = {_stem(w) for w in _content_words(query)}
    rwords = {_stem(w) for w in _content_words(response)}
    overlap = len(qwords & rwords) / len(qwords) if qwords else 0.0
    return round(min(max(0.6 * cos + 0.4 * overlap, 0.0), 1.0), 2)


def text_units(text: str) -> int:
    """Guardrail text units of a text: one per started 1,000 characters (0 for empty text)."""
    return math.ceil(len(text) / 1000) if text else 0
