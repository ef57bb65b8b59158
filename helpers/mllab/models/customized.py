"""What a Bedrock model-customisation job really learns offline: a documented stand-in.

Introduced in the model-customisation lab. No weights are trained offline. A customisation
job builds a :class:`CustomModel` from its training records, and the model answers as:

1. **Memory of the training pairs** -- the prompt is embedded (:mod:`mllab.models.embeddings`)
   and compared with every training prompt; when the nearest one is at least
   ``match_threshold`` similar, the model answers with that example's completion (what a
   fine-tuned model does best on in-distribution prompts: reproduce the taught answer).
2. **Learned answer style** -- otherwise the base stand-in model answers, and its answer is
   cut to the training completions' median length in words (a fine-tuned model's outputs
   follow the length and form of its training targets). Continued pre-training adds the
   training texts as background passages the base stand-in may quote.

The *loss* reported for each step is real cross-entropy (nats per token) of the batch's
completion tokens under an add-one-smoothed unigram language model of the completions seen
so far (prequential: scored before the batch is learned), interpolated with a uniform
model by ``min(1, learningRate * 1e5)``; validation loss is the same on the validation set
after each epoch. It falls as the model sees more of the task, as a real loss curve does,
but it is not the loss of a neural network.

How it differs from fine-tuning an LLM: it does not generalise beyond nearest-neighbour
recall and length style, and more epochs only lower the reported loss. Costs nothing;
deletes nothing.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

_WORD = re.compile(r"\w+|[^\w\s]")


def words(text: str) -> list[str]:
    """Lower-cased word and punctuation tokens."""
    return _WORD.findall(text.lower())


@dataclass
class CustomModel:
    """A customised stand-in model.

    Attributes:
        base_model_id: the foundation model it was customised from.
        prompts: training prompts.
        completions: training completions (same order).
        passages: continued-pre-training texts.
        median_words: the median length of the training completions, in words.
        match_threshold: least cosine similarity for an answer from memory.
    """

    base_model_id: str
    prompts: list[str] = field(default_factory=list)
    completions: list[str] = field(default_factory=list)
    passages: list[str] = field(default_factory=list)
    median_words: int = 0
    match_threshold: float = 0.8
    _vecs: Any = None

    def fit(self) -> CustomModel:
        """Embed the training prompts and learn the answer length (call once)."""
        from mllab.models import embeddings

        if self.prompts:
            self._vecs = embeddings.embed(self.prompts)
        lengths = [len(c.split()) for c in self.completions]
        self.median_words = int(np.median(lengths)) if lengths else 0
        return self

    def generate(
        self, prompt: str, inference_config: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Answer ``prompt`` (Converse-shaped result, as :func:`mllab.models.foundation.generate`)."""
        from mllab.models import embeddings, foundation, tokens

        if self._vecs is not None and len(self.prompts):
            q = embeddings.embed([prompt])[0]
            sims = self._vecs @ q
            best = int(np.argmax(sims))
            if float(sims[best]) >= self.match_threshold:
                text = self.completions[best]
                n_in, n_out = tokens.count(prompt), tokens.count(text)
                return {
                    "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
                    "stopReason": "end_turn",
                    "usage": {
                        "inputTokens": n_in,
                        "outputTokens": n_out,
                        "totalTokens": n_in + n_out,
                    },
                }
        system = [{"text": p} for p in self.passages[:50]] or None
        out = foundation.generate(
            self.base_model_id,
            [{"role": "user", "content": [{"text": prompt}]}],
            system,
            inference_config,
        )
        if self.median_words:
            blocks = out["output"]["message"]["content"]
            text = "".join(b.get("text", "") for b in blocks)
            cut = " ".join(text.split()[: max(self.median_words, 1)])
            out["output"]["message"]["content"] = [{"text": cut}]
        return out


class UnigramLoss:
    """Prequential cross-entropy of completions under an add-one unigram model."""

    def __init__(self, learning_rate: float) -> None:
        self.counts: Counter[str] = Counter()
        self.total = 0
        self.mix = min(1.0, max(0.0, learning_rate * 1e5))

    def loss(self, texts: list[str]) -> float:
        """Mean nats per token of ``texts`` under the current model."""
        toks = [t for x in texts for t in words(x)]
        if not toks:
            return 0.0
        vocab = len(self.counts) + 1000  # unseen words share the rest of a 1,000-word space
        nll = 0.0
        for t in toks:
            p_model = (self.counts.get(t, 0) + 1) / (self.total + vocab)
            p = self.mix * p_model + (1 - self.mix) / vocab
            nll -= math.log(p)
        return nll / len(toks)

    def learn(self, texts: list[str]) -> None:
        """Add the tokens of ``texts``."""
        for x in texts:
            toks = words(x)
            self.counts.update(toks)
            self.total += len(toks)
