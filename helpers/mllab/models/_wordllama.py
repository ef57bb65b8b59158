"""Load wordllama once, lazily and thread-safely, from the weights inside its wheel.

wordllama (https://github.com/dleemiller/WordLlama) ships 256-dimensional token embeddings
distilled from large-language-model input embeddings and the Llama-2 BPE tokenizer inside
its PyPI wheel, so nothing is downloaded at run time.
"""

from __future__ import annotations

import threading
from typing import Any

_LOCK = threading.Lock()
_MODEL: Any = None


def model() -> Any:
    """Return the shared ``WordLlamaInference`` (loaded on first call, about 0.2 s).

    Returns:
        The wordllama model; its ``tokenizer`` is a Hugging Face ``tokenizers.Tokenizer``.
        Costs nothing; deletes nothing.
    """
    global _MODEL
    if _MODEL is None:
        with _LOCK:
            if _MODEL is None:
                from pathlib import Path

                import wordllama
                from wordllama import WordLlama

                _MODEL = WordLlama.load(
                    cache_dir=Path(wordllama.__file__).parent, disable_download=True
                )
    return _MODEL
