"""A small labelled corpus for knowledge-base tests: topical facts buried in other paragraphs.

Each document holds one topical paragraph (the fact a question asks for) among boilerplate
and unrelated distractor paragraphs (a different seeded mix in every document), so a
whole-document chunk is diluted while small chunks isolate the fact: chunking changes
measured recall.
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


DISTRACTORS = [
    "The quarterly budget review moved to the second week of the month, and every team lead "
    "must submit spending forecasts with receipts attached.",
    "Our office kitchen will be repainted next Friday, so please take your mugs and snacks "
    "home before the weekend.",
    "The football club won its third match in a row after a late goal from the young striker "
    "in the final minute.",
    "Medieval castles were built with thick stone walls, narrow windows and a moat to keep "
    "attackers away from the gate.",
    "The new smartphone has a larger screen, a faster processor and a camera that works "
    "better in low light.",
    "Traffic on the northern highway is heavy this morning because of roadworks near the "
    "river bridge.",
    "The novel follows a detective who returns to her home town to solve a decades-old "
    "mystery about a missing painter.",
    "Customers can return unused items within thirty days if they keep the original receipt "
    "and packaging.",
    "The orchestra rehearsed the symphony for weeks before the premiere in the renovated "
    "concert hall downtown.",
    "Municipal elections will be held in spring, and candidates must register with the city "
    "clerk by the end of January.",
    "The hotel offers a rooftop pool, a fitness centre and free breakfast for guests who book "
    "directly online.",
    "Software updates are installed automatically overnight; restart your laptop in the "
    "morning to finish the installation.",
    "The art museum opened an exhibition of modern sculpture with works in bronze, glass and "
    "recycled steel.",
    "Airline passengers may carry one bag and one personal item; larger suitcases must be "
    "checked at the counter.",
    "The cooking class teaches how to make fresh pasta, tomato sauce and a simple tiramisu.",
    "Wind farms along the coast now supply a fifth of the region's electricity on average.",
]


def documents(seed: int = 7, distractors: int = 6) -> dict[str, str]:
    """``{key: text}`` for every topic: the fact among shared boilerplate and seeded
    distractor paragraphs (different in every document)."""
    rng = random.Random(seed)
    out = {}
    for topic, fact, _q in FACTS:
        paras = rng.sample(BOILERPLATE, 2) + rng.sample(DISTRACTORS, distractors)
        rng.shuffle(paras)
        paras.insert(rng.randrange(1, len(paras)), fact)
        out[f"kb/{topic}.txt"] = "\n\n".join(paras)
    return out


#: The phrase of each fact that answers its question (a retrieved chunk must hold it whole).
ANSWERS = {
    "volcano": "buried two fishing villages",
    "coffee": "nine bars of pressure",
    "bees": "waggle dance",
    "tides": "gravitational pull of the moon",
    "chess": "neither piece has moved before",
    "vaccine": "harmless piece of a pathogen",
    "bread": "wild yeast and lactic acid bacteria",
    "glacier": "carving U-shaped valleys",
    "piano": "felt hammers strike steel strings",
    "satellite": "thirty-six thousand kilometres above the",
    "photosynthesis": "in the chloroplasts of their leaves",
    "marathon": "fixed at the 1908 London",
}


def answers() -> list[tuple[str, str]]:
    """(question, answer phrase a retrieved chunk must contain)."""
    return [(q, ANSWERS[topic]) for topic, _f, q in FACTS]


def questions() -> list[tuple[str, str]]:
    """(question, key of the document that answers it)."""
    return [(q, f"kb/{topic}.txt") for topic, _f, q in FACTS]
