"""A small labelled corpus for knowledge-base tests: topical facts buried in shared boilerplate.

Each document holds one topical paragraph (the fact a question asks for) among paragraphs of
boilerplate that every document shares, so whole-document chunks are diluted by the
boilerplate while small chunks isolate the fact: chunking changes measured recall.
"""

from __future__ import annotations

import random

FACTS: list[tuple[str, str, str]] = [
    (
        "volcano",
        "Mount Kelvara is a stratovolcano whose 1883 eruption threw ash thirty kilometres into "
        "the stratosphere. Lava flows from the eruption buried two fishing villages on its "
        "northern slope.",
        "Which volcano erupted in 1883 and buried fishing villages under lava?",
    ),
    (
        "coffee",
        "Espresso is brewed by forcing hot water at nine bars of pressure through finely ground "
        "coffee beans. A good shot extracts in about twenty-five seconds and has a golden crema.",
        "How much pressure is used to brew espresso coffee?",
    ),
    (
        "bees",
        "Honey bees communicate the direction of flowers with a waggle dance inside the hive. "
        "The angle of the dance relative to vertical matches the angle between the sun and the "
        "nectar source.",
        "How do honey bees tell other bees where the flowers are?",
    ),
    (
        "tides",
        "Ocean tides are caused mainly by the gravitational pull of the moon on the oceans. "
        "Spring tides, with the largest range, happen when the sun and moon line up.",
        "What causes the tides of the ocean?",
    ),
    (
        "chess",
        "In chess, castling moves the king two squares toward a rook and places the rook on "
        "the other side of the king. It is allowed only if neither piece has moved before.",
        "When is a chess player allowed to castle the king with a rook?",
    ),
    (
        "vaccine",
        "Vaccines train the immune system by exposing it to a harmless piece of a pathogen, so "
        "antibodies and memory cells are ready before a real infection.",
        "How does a vaccine prepare the immune system against infection?",
    ),
    (
        "bread",
        "Sourdough bread rises because wild yeast and lactic acid bacteria in the starter "
        "ferment the flour, producing carbon dioxide and a sour taste.",
        "Why does sourdough bread rise and taste sour?",
    ),
    (
        "glacier",
        "Glaciers move slowly downhill under their own weight, carving U-shaped valleys and "
        "leaving moraines of rock where the ice melts.",
        "How do glaciers shape valleys as they move?",
    ),
    (
        "piano",
        "A piano makes sound when felt hammers strike steel strings; the soundboard amplifies "
        "the vibration, and dampers stop it when the key is released.",
        "What makes the sound inside a piano when a key is pressed?",
    ),
    (
        "satellite",
        "A geostationary satellite orbits about thirty-six thousand kilometres above the "
        "equator, so it circles the Earth once a day and stays above one spot.",
        "How high does a geostationary satellite orbit above the equator?",
    ),
    (
        "photosynthesis",
        "Plants turn sunlight, water and carbon dioxide into glucose and oxygen by "
        "photosynthesis in the chloroplasts of their leaves.",
        "How do plants make glucose and oxygen from sunlight?",
    ),
    (
        "marathon",
        "A marathon race is 42.195 kilometres long; the distance was fixed at the 1908 London "
        "Olympics so the race could finish in front of the royal box.",
        "How long is a marathon race and when was the distance fixed?",
    ),
]

BOILERPLATE = [
    "This document is part of the internal knowledge collection maintained by the records "
    "team. Employees should consult the records team before sharing any material outside the "
    "company, and all revisions must be logged in the change register.",
    "Retention rules apply to every document in this collection. Drafts are kept for ninety "
    "days, approved versions for seven years, and superseded versions are archived in cold "
    "storage according to the records management policy.",
    "Questions about formatting, accessibility or translation of this document can be sent "
    "to the documentation help desk, which answers within two business days. Please include "
    "the document title and version in every request.",
    "The collection is reviewed every quarter by the editorial board, which checks that "
    "every page follows the style guide, that links still work, and that owners are listed "
    "for each section of the material.",
]


def documents(seed: int = 7) -> dict[str, str]:
    """``{key: text}`` for every topic: the fact among the shared boilerplate, seeded order."""
    rng = random.Random(seed)
    out = {}
    for topic, fact, _q in FACTS:
        paras = list(BOILERPLATE)
        rng.shuffle(paras)
        paras.insert(rng.randrange(1, len(paras)), fact)
        out[f"kb/{topic}.txt"] = "\n\n".join(paras)
    return out


def questions() -> list[tuple[str, str]]:
    """(question, key of the document that answers it)."""
    return [(q, f"kb/{topic}.txt") for topic, _f, q in FACTS]
