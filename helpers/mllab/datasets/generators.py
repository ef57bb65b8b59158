"""Seeded data generators for the labs: realistic distributions, realistic defects.

Every generator is deterministic per ``seed`` (numpy's PCG64), needs no network, and runs in
well under a second at the sizes the labs use (10^3-10^5 rows). The docstrings are the schemas.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd

_COUNTRIES = ["US", "DE", "GB", "FR", "IN", "BR", "JP", "CA", "ES", "AU"]
_COUNTRY_P = [0.38, 0.1, 0.1, 0.07, 0.09, 0.07, 0.06, 0.05, 0.04, 0.04]
_DEVICES = ["desktop", "mobile", "tablet"]
_REFERRERS = ["direct", "google.com", "facebook.com", "newsletter", "bing.com", "partner-site.com"]
_PAGES = ["/", "/search", "/product", "/cart", "/checkout", "/account", "/help", "/deals"]
_CITIES = {
    "US": "Seattle",
    "DE": "Berlin",
    "GB": "London",
    "FR": "Paris",
    "IN": "Bengaluru",
    "BR": "Sao Paulo",
    "JP": "Tokyo",
    "CA": "Toronto",
    "ES": "Madrid",
    "AU": "Sydney",
}
_TZ = {
    "US": "America/Los_Angeles",
    "DE": "Europe/Berlin",
    "GB": "Europe/London",
    "FR": "Europe/Paris",
    "IN": "Asia/Kolkata",
    "BR": "America/Sao_Paulo",
    "JP": "Asia/Tokyo",
    "CA": "America/Toronto",
    "ES": "Europe/Madrid",
    "AU": "Australia/Sydney",
}
_FIRST = ["alex", "sam", "maria", "li", "noah", "emma", "omar", "yuki", "ana", "ivan", "zoe"]
_DOMAINS = ["example.com", "mail.example.org", "corp.example.net"]
_UA = {
    "desktop": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36",
    "mobile": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
    "tablet": "Mozilla/5.0 (Linux; Android 14; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36",
}


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(np.random.PCG64(int(seed)))


def _hex_ids(rng: np.random.Generator, n: int, width: int = 32) -> list[str]:
    raw = rng.integers(0, 2**63, size=(n, (width + 15) // 16), dtype=np.int64)
    return ["".join(f"{v:016x}" for v in row)[:width] for row in raw]


def _emails(rng: np.random.Generator, ids: np.ndarray) -> list[str]:
    first = np.asarray(_FIRST)[ids % len(_FIRST)]
    dom = np.asarray(_DOMAINS)[(ids // 7) % len(_DOMAINS)]
    return [f"{f}.{i}@{d}" for f, i, d in zip(first, ids, dom, strict=True)]


# --------------------------------------------------------------------------- lab 01
def clickstream(n: int = 1000, seed: int = 0, start: str = "2025-03-01T08:00:00Z") -> pd.DataFrame:
    """Website click events, as a producer would put them on a Kinesis stream (lab 01).

    One row is one JSON event of about 1 KB (``to_jsonlines`` gives ~1,000 bytes per line).

    Schema:
        event_id (str): 32 hex characters, unique.
        user_id (str): ``u00042``; Zipf-skewed: user ``u00001`` (the hot key) sends ~20% of
            events, so partitioning by user_id makes one hot shard.
        session_id (str): 16 hex characters; a user's consecutive events share it.
        ts (str): ISO 8601 UTC, ``2025-03-01T08:00:03.120Z``; increasing, ~3 events/second.
        page (str): ``/product/1234``-style path from 8 sections.
        referrer (str): ``direct``, ``google.com``...
        device (str): desktop 55%, mobile 38%, tablet 7%.
        country (str): ISO country code, US-heavy.
        email (str): the user's email address (PII: mask or drop it before analytics).
        ip (str): client IPv4 address in 203.0.113.0/24 or 198.51.100.0/24 (PII).
        dwell_ms (int): time on page, log-normal (median ~9 s), a few negative values from
            clock skew (a defect to filter).
        purchase_amount (float): dollars on ~4% of events (checkout pages), else 0.0.
        user_agent (str): the browser's user agent.
        properties (dict): ``{"ab_variant", "app_version", "viewport", "locale", "campaign"}``.

    Args:
        n: number of events.
        seed: random seed.
        start: timestamp of the first event.

    Returns:
        A DataFrame with one row per event, in time order.
    """
    rng = _rng(seed)
    n_users = max(10, n // 8)
    ranks = np.minimum(rng.zipf(1.6, size=n), n_users)
    hot = rng.random(n) < 0.2
    users = np.where(hot, 1, ranks)
    t0 = dt.datetime.fromisoformat(start.replace("Z", "+00:00"))
    gaps = rng.exponential(0.33, size=n)
    secs = np.cumsum(gaps)
    ts = [
        (t0 + dt.timedelta(seconds=float(s))).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        for s in secs
    ]
    session_of_user = {int(u): _hex_ids(rng, 1, 16)[0] for u in np.unique(users)}
    device = rng.choice(_DEVICES, size=n, p=[0.55, 0.38, 0.07])
    section = rng.choice(_PAGES, size=n, p=[0.14, 0.2, 0.33, 0.12, 0.06, 0.06, 0.04, 0.05])
    item = rng.integers(1000, 9999, size=n)
    page = [
        f"{s}/{i}" if s in ("/product", "/deals") else s for s, i in zip(section, item, strict=True)
    ]
    dwell = rng.lognormal(np.log(9000), 0.9, size=n).astype(int)
    skew = rng.random(n) < 0.005
    dwell[skew] = -rng.integers(1, 5000, size=int(skew.sum()))
    buys = (section == "/checkout") & (rng.random(n) < 0.65)
    amount = np.where(buys, np.round(rng.lognormal(np.log(45), 0.8, size=n), 2), 0.0)
    ip_net = np.where(users % 2 == 0, "203.0.113", "198.51.100")
    country_idx = (users * 7919) % 1000
    cum = np.cumsum(_COUNTRY_P)
    country = np.asarray(_COUNTRIES)[
        np.searchsorted(cum, country_idx / 1000.0, side="right").clip(0, 9)
    ]
    variant = rng.choice(["control", "treatment-a", "treatment-b"], size=n)
    campaign = rng.choice(
        ["spring-sale", "none", "retargeting", "brand"], size=n, p=[0.3, 0.4, 0.2, 0.1]
    )
    viewport = np.where(
        device == "mobile", "390x844", np.where(device == "tablet", "820x1180", "1920x1080")
    )
    referrer = rng.choice(_REFERRERS, size=n, p=[0.35, 0.3, 0.1, 0.1, 0.05, 0.1])
    lat = rng.uniform(-60, 60, size=n)
    lon = rng.uniform(-150, 150, size=n)
    rows = {
        "event_id": _hex_ids(rng, n, 32),
        "user_id": [f"u{int(u):05d}" for u in users],
        "session_id": [session_of_user[int(u)] for u in users],
        "ts": ts,
        "page": page,
        "referrer": referrer,
        "device": device,
        "country": country,
        "email": _emails(rng, users.astype(np.int64)),
        "ip": [f"{net}.{int(u) % 254 + 1}" for net, u in zip(ip_net, users, strict=True)],
        "dwell_ms": dwell,
        "purchase_amount": amount,
        "user_agent": [_UA[d] for d in device],
        "properties": [
            {
                "ab_variant": v,
                "app_version": "web-4.12.1",
                "viewport": vp,
                "locale": f"en-{c}",
                "campaign": cp,
                "consent": {"analytics": True, "marketing": bool(i % 3)},
                "page_title": f"Store | {p.strip('/').split('/')[0].title() or 'Home'}",
                "page_url": f"https://shop.example.com{p}?utm_source={r}&utm_medium="
                f"{'cpc' if cp != 'none' else 'organic'}&utm_campaign={cp}&ref=nav-{i % 17}",
                "geo": {
                    "country": c,
                    "city": _CITIES[c],
                    "timezone": _TZ[c],
                    "lat": round(float(la), 3),
                    "lon": round(float(lo), 3),
                },
                "sdk": {"name": "store-web-tracker", "version": "2.8.0", "batch": i // 25},
            }
            for i, (v, vp, c, cp, p, r, la, lo) in enumerate(
                zip(variant, viewport, country, campaign, page, referrer, lat, lon, strict=True)
            )
        ],
    }
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- lab 02
_PLAN_SPELLINGS = {
    "basic": ["Basic", "basic", "BASIC", "Basic "],
    "standard": ["Standard", "standard", "STD", " Standard"],
    "premium": ["Premium", "premium ", "PREM", "Premium"],
}
_REGIONS = ["north", "south", "east", "west", "central"]
_COMPLAINTS = {
    True: [
        "Dropped calls every evening, considering switching provider",
        "Bill was higher than promised, support did not help",
        "Data speed is terrible since the last update",
        "Cancel my contract, the coverage at home is awful",
        "Charged twice for roaming, very frustrated",
    ],
    False: [
        "Happy with the service, just a question about my bill",
        "How do I add a family member to my plan",
        "Coverage is fine, please send a new SIM card",
        "",
        "",
        "Thanks for the quick fix last week",
    ],
}


def telecom_customers(n: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Telecom customer records for churn prediction, with the defects EDA must find (lab 02).

    Schema:
        customer_id (str): ``C000123``; ~3% of rows are duplicates of another row (same id,
            same values: dedupe them).
        signup_date (str): ``YYYY-MM-DD`` between 2018 and 2025.
        plan (str): basic / standard / premium spelled inconsistently (``"Premium"``,
            ``"premium "``, ``"PREM"``, ``"STD"``...): normalise before encoding.
        monthly_spend (float): dollars, log-normal (right-skewed: log-transform it).
        tenure_months (int): months since signup.
        data_gb (float): monthly data use; ~1% outliers of 500-5,000 GB (meter errors).
        support_calls (int): calls last quarter (Poisson, higher for churners).
        age (float): years; ~8% missing (NaN): impute.
        gender (str): ``F``/``M``/``X``; the facet for a bias check (churn labels are mildly
            skewed by it).
        region (str): one of five regions.
        complaint_text (str): free text from the last ticket ('' when none).
        email (str): PII.
        phone (str): PII, ``+1-555-01xx-xxxx``.
        churned (int): 1 for ~12% of customers (imbalanced).

    Args:
        n: number of rows before duplicates are added.
        seed: random seed.

    Returns:
        A DataFrame of about ``1.03 * n`` rows, shuffled.
    """
    rng = _rng(seed)
    ids = np.arange(1, n + 1)
    plan_true = rng.choice(list(_PLAN_SPELLINGS), size=n, p=[0.45, 0.35, 0.2])
    base = {"basic": 25.0, "standard": 45.0, "premium": 80.0}
    spend = np.round(np.array([base[p] for p in plan_true]) * rng.lognormal(0.0, 0.35, size=n), 2)
    tenure = rng.integers(1, 96, size=n)
    signup = [
        (dt.date(2025, 6, 1) - dt.timedelta(days=int(t) * 30 + int(d))).isoformat()
        for t, d in zip(tenure, rng.integers(0, 30, size=n), strict=True)
    ]
    data_gb = np.round(rng.gamma(2.0, 6.0, size=n), 2)
    out = rng.random(n) < 0.01
    data_gb[out] = np.round(rng.uniform(500, 5000, size=int(out.sum())), 1)
    age = np.round(rng.normal(44, 14, size=n).clip(18, 90))
    gender = rng.choice(["F", "M", "X"], size=n, p=[0.49, 0.49, 0.02])
    region = rng.choice(_REGIONS, size=n)
    # churn: short tenure, many calls, high spend on basic, month-to-month feel; mild gender skew
    calls_rate = 1.0 + 0.8 * (tenure < 12)
    logit = (
        -2.4
        - 0.03 * (tenure - 24)
        + 0.25 * (spend / np.array([base[p] for p in plan_true]) - 1) * 3
        + 0.35 * (gender == "M")
        + 0.6 * (region == "south")
        + rng.normal(0, 0.8, size=n)
    )
    # the top ~12% of the noisy churn score churn (imbalanced, like the real thing)
    target = int(round(0.12 * n))
    order = np.argsort(-(logit + rng.normal(0, 0.3, size=n)))
    churn = np.zeros(n, dtype=int)
    churn[order[:target]] = 1
    calls = rng.poisson(calls_rate + 2.2 * churn)
    complaint = [
        _COMPLAINTS[bool(c)][int(k) % len(_COMPLAINTS[bool(c)])]
        for c, k in zip(churn, rng.integers(0, 1000, size=n), strict=True)
    ]
    spelled = [
        _PLAN_SPELLINGS[p][int(k)]
        for p, k in zip(plan_true, rng.choice(4, size=n, p=[0.7, 0.12, 0.1, 0.08]), strict=True)
    ]
    df = pd.DataFrame(
        {
            "customer_id": [f"C{i:06d}" for i in ids],
            "signup_date": signup,
            "plan": spelled,
            "monthly_spend": spend,
            "tenure_months": tenure,
            "data_gb": data_gb,
            "support_calls": calls,
            "age": age,
            "gender": gender,
            "region": region,
            "complaint_text": complaint,
            "email": _emails(rng, ids),
            "phone": [f"+1-555-01{int(i) % 100:02d}-{int(i) % 10000:04d}" for i in ids],
            "churned": churn,
        }
    )
    df.loc[rng.random(n) < 0.08, "age"] = np.nan
    dups = df.sample(n=max(1, int(round(0.03 * n))), random_state=int(rng.integers(2**31)))
    df = pd.concat([df, dups], ignore_index=True)
    return df.sample(frac=1.0, random_state=int(rng.integers(2**31))).reset_index(drop=True)


# --------------------------------------------------------------------------- labs 03/04
_MCC = ["grocery", "fuel", "restaurant", "online_retail", "electronics", "travel", "gaming", "atm"]


def card_transactions(n: int = 20000, seed: int = 0, fraud_rate: float = 0.005) -> pd.DataFrame:
    """Card transactions for fraud detection with XGBoost (labs 03 and 04).

    The fraud label follows a noisy logistic model of the features, so a gradient-boosted
    model reaches a held-out AUC of about 0.9-0.97 and a linear model noticeably less; the
    classes are heavily imbalanced (``scale_pos_weight`` matters).

    Schema:
        transaction_id (str): ``T0000001``.
        card_id (str): ``K00042``.
        amount (float): dollars, log-normal; fraud skews high.
        merchant_category (str): one of 8 categories; electronics, gaming, online_retail and
            atm carry more fraud.
        hour (int): 0-23; fraud clusters at night.
        distance_from_home (float): km, log-normal; fraud far from home.
        online (int): 1 for card-not-present web purchases.
        card_present (int): 1 when the chip was read (never with online=1).
        velocity_1h (int): this card's transactions in the last hour.
        velocity_24h (int): in the last 24 hours.
        amount_vs_avg (float): amount divided by the card's 30-day average.
        is_fraud (int): 1 for about ``fraud_rate`` of the rows.

    Args:
        n: number of transactions.
        seed: random seed.
        fraud_rate: share of fraudulent rows (0 < rate < 0.5).

    Returns:
        A DataFrame, one row per transaction.
    """
    if not 0 < fraud_rate < 0.5:
        raise ValueError("fraud_rate must be between 0 and 0.5, e.g. 0.005")
    rng = _rng(seed)
    mcc = rng.choice(_MCC, size=n, p=[0.25, 0.12, 0.18, 0.18, 0.07, 0.05, 0.05, 0.1])
    risky = np.isin(mcc, ["electronics", "gaming", "online_retail", "atm"])
    hour = rng.choice(24, size=n, p=_hour_profile())
    night = (hour <= 5) | (hour >= 23)
    online = (np.isin(mcc, ["online_retail", "gaming"]) | (rng.random(n) < 0.1)).astype(int)
    card_present = ((online == 0) & (rng.random(n) < 0.9)).astype(int)
    distance = rng.lognormal(np.log(8), 1.0, size=n)
    v1 = rng.poisson(0.6, size=n)
    v24 = v1 + rng.poisson(3.0, size=n)
    amount = rng.lognormal(np.log(40), 1.0, size=n)
    avg = amount / rng.lognormal(0, 0.5, size=n)
    # fraud is a noisy mix of interactions (night AND risky merchant, card-not-present far
    # from home, bursts, card-testing micro amounts or big-ticket buys): trees find it, a
    # linear model only partly
    ratio = amount / avg
    score = (
        1.6 * (night & risky)
        + 1.4 * ((online == 1) & (distance > 40))
        + 1.2 * (v1 >= 3)
        + 1.2 * ((amount < 2.5) | (ratio > 6))
        + 0.5 * risky
        + 0.4 * night
        + rng.normal(0, 1.0, size=n)
    )
    k = max(1, int(round(fraud_rate * n)))
    fraud = np.zeros(n, dtype=int)
    fraud[np.argsort(-score)[:k]] = 1
    v24 = np.maximum(v24, v1)
    return pd.DataFrame(
        {
            "transaction_id": [f"T{i:07d}" for i in range(1, n + 1)],
            "card_id": [f"K{int(c):05d}" for c in rng.integers(1, max(2, n // 20), size=n)],
            "amount": np.round(amount, 2),
            "merchant_category": mcc,
            "hour": hour,
            "distance_from_home": np.round(distance, 2),
            "online": online,
            "card_present": card_present,
            "velocity_1h": v1,
            "velocity_24h": v24,
            "amount_vs_avg": np.round(ratio, 3),
            "is_fraud": fraud,
        }
    )


def _hour_profile() -> np.ndarray:
    h = np.arange(24)
    p = 0.2 + np.exp(-((h - 13) ** 2) / 30.0) + 0.6 * np.exp(-((h - 19) ** 2) / 8.0)
    return p / p.sum()


# --------------------------------------------------------------------------- DeepAR
def demand_series(
    n_series: int = 20, length: int = 365, seed: int = 0, start: str = "2024-01-01"
) -> list[dict[str, Any]]:
    """Daily demand per store/product for DeepAR (JSON Lines records).

    Each series has a level, a trend, weekly and yearly seasonality, negative-binomial-like
    noise, and some stock-out days (zeros). The category drives the level and the weekly shape.

    Schema (one dict per series, DeepAR's input format):
        start (str): ``"2024-01-01 00:00:00"``.
        target (list[float]): ``length`` daily values (non-negative).
        cat (list[int]): ``[category]``, 0-3 (one categorical feature: ``cardinality=[4]``).

    Args:
        n_series: number of series.
        length: points per series.
        seed: random seed.
        start: first day.

    Returns:
        A list of dicts (write them with :func:`to_jsonlines`).
    """
    rng = _rng(seed)
    t = np.arange(length)
    out = []
    first = f"{dt.date.fromisoformat(start).isoformat()} 00:00:00"
    for _ in range(n_series):
        cat = int(rng.integers(0, 4))
        level = [20, 60, 150, 400][cat] * rng.lognormal(0, 0.3)
        trend = rng.normal(0.0008, 0.0008)
        weekly_amp = [0.15, 0.3, 0.45, 0.2][cat]
        dow = np.array([0.9, 0.85, 0.9, 1.0, 1.15, 1.4, 1.2]) - 1
        shift = int(rng.integers(0, 7))
        mean = (
            level
            * (1 + trend * t)
            * (1 + weekly_amp * np.roll(dow, shift)[t % 7] / 0.4)
            * (1 + 0.15 * np.sin(2 * np.pi * (t + rng.integers(0, 365)) / 365.25))
        )
        mean = np.clip(mean, 0.1, None)
        shape = 8.0
        y = rng.poisson(rng.gamma(shape, mean / shape))
        stockout = rng.random(length) < 0.01
        y[stockout] = 0
        out.append({"start": first, "target": [float(v) for v in y], "cat": [cat]})
    return out


# --------------------------------------------------------------------------- BlazingText
_TICKET_WORDS = {
    "billing": [
        "invoice",
        "charged",
        "refund",
        "payment",
        "bill",
        "credit card",
        "overcharged",
        "subscription",
        "receipt",
        "price",
        "double charge",
        "discount",
    ],
    "technical": [
        "error",
        "crash",
        "bug",
        "login page",
        "timeout",
        "app",
        "install",
        "update",
        "slow",
        "broken",
        "500 error",
        "sync",
    ],
    "account": [
        "password",
        "reset",
        "username",
        "two-factor",
        "email address",
        "profile",
        "locked",
        "delete my account",
        "sign in",
        "security",
        "verify",
        "settings",
    ],
    "shipping": [
        "delivery",
        "package",
        "tracking",
        "courier",
        "delayed",
        "address",
        "shipped",
        "lost parcel",
        "arrived damaged",
        "return label",
        "warehouse",
        "carrier",
    ],
}
_TICKET_FRAMES = [
    "hi team, {a} and {b}, please help",
    "my {a} is not working, also {b}",
    "urgent: {a} issue since yesterday ({b})",
    "I have a question about {a}. {b}?",
    "{a} {b} again, third time this month",
    "Hello, can you check the {a}? Thanks. Re: {b}",
]
_TICKET_FILLER = ["order", "account", "today", "customer", "please", "thanks", "issue", "help"]


def support_tickets(n: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Support tickets to classify with BlazingText (supervised mode).

    About 8% of tickets mix vocabulary from a second category and ~3% are mislabelled, so
    accuracy tops out around 0.9.

    Schema:
        ticket_id (str): ``TK00001``.
        text (str): the ticket, mixed case with punctuation (tokenise before training).
        label (str): ``billing`` (35%), ``technical`` (30%), ``account`` (20%),
            ``shipping`` (15%).

    Args:
        n: number of tickets.
        seed: random seed.

    Returns:
        A DataFrame (write it with :func:`to_blazingtext`).
    """
    rng = _rng(seed)
    labels = list(_TICKET_WORDS)
    y = rng.choice(labels, size=n, p=[0.35, 0.3, 0.2, 0.15])
    words = {k: np.asarray(v) for k, v in _TICKET_WORDS.items()}
    pick_a = rng.integers(0, 12, size=n)
    pick_b = (pick_a + rng.integers(1, 12, size=n)) % 12
    mixed = rng.random(n) < 0.08
    other = rng.integers(0, 4, size=n)
    frames = rng.integers(0, len(_TICKET_FRAMES), size=n)
    n_fill = rng.integers(0, 4, size=n)
    fill = rng.integers(0, len(_TICKET_FILLER), size=(n, 3))
    texts = []
    for i, lab in enumerate(y):
        a = words[str(lab)][pick_a[i]]
        b = words[labels[other[i]] if mixed[i] else str(lab)][pick_b[i]]
        extra = " ".join(_TICKET_FILLER[j] for j in fill[i, : n_fill[i]])
        texts.append((_TICKET_FRAMES[frames[i]].format(a=a, b=b) + " " + extra).strip())
    noisy = rng.random(n) < 0.03
    y = np.where(noisy, rng.choice(labels, size=n), y)
    return pd.DataFrame(
        {"ticket_id": [f"TK{i:05d}" for i in range(1, n + 1)], "text": texts, "label": y}
    )


# --------------------------------------------------------------------------- RCF
def logins(n: int = 5000, seed: int = 0, anomaly_rate: float = 0.01) -> pd.DataFrame:
    """Login events for anomaly detection with Random Cut Forest.

    Normal logins are office-hours, nearby, few failures; anomalies (credential stuffing,
    impossible travel, data exfiltration) are far from them in several features at once.

    Schema:
        login_id (str): ``L000001``.
        hour (float): hour of day with minutes as a fraction.
        failed_attempts (int): failures before this login.
        distance_km (float): distance from the user's usual location.
        session_minutes (float): session length.
        mb_downloaded (float): data downloaded in the session.
        new_device (int): 1 for a device never seen for this user.
        is_anomaly (int): 1 for about ``anomaly_rate`` of rows (for evaluation only: RCF is
            unsupervised, train on the numeric features without it).

    Args:
        n: number of logins.
        seed: random seed.
        anomaly_rate: share of anomalies.

    Returns:
        A DataFrame; the numeric feature columns are ``hour`` to ``new_device``.
    """
    rng = _rng(seed)
    hour = np.clip(rng.normal(13, 3, size=n), 0, 23.99)
    failed = rng.poisson(0.2, size=n)
    dist = rng.lognormal(np.log(5), 0.8, size=n)
    minutes = rng.lognormal(np.log(35), 0.6, size=n)
    mb = rng.lognormal(np.log(40), 0.9, size=n)
    new_dev = (rng.random(n) < 0.05).astype(int)
    k = max(1, int(round(anomaly_rate * n)))
    idx = rng.choice(n, size=k, replace=False)
    kind = rng.integers(0, 3, size=k)
    hour[idx] = np.where(kind == 0, rng.uniform(1, 5, size=k), hour[idx])
    failed[idx] += np.where(kind == 0, rng.integers(8, 30, size=k), rng.integers(0, 3, size=k))
    dist[idx] = np.where(kind == 1, rng.uniform(3000, 12000, size=k), dist[idx] * 3)
    mb[idx] = np.where(kind == 2, rng.uniform(5000, 40000, size=k), mb[idx] * 2)
    new_dev[idx] = 1
    label = np.zeros(n, dtype=int)
    label[idx] = 1
    return pd.DataFrame(
        {
            "login_id": [f"L{i:06d}" for i in range(1, n + 1)],
            "hour": np.round(hour, 2),
            "failed_attempts": failed,
            "distance_km": np.round(dist, 1),
            "session_minutes": np.round(minutes, 1),
            "mb_downloaded": np.round(mb, 1),
            "new_device": new_dev,
            "is_anomaly": label,
        }
    )


# --------------------------------------------------------------------------- regression
_HOODS = ["riverside", "old-town", "hillcrest", "industrial", "lakeside"]


def house_prices(n: int = 3000, seed: int = 0, outlier_rate: float = 0.02) -> pd.DataFrame:
    """House sales for regression, with outliers that separate RMSE from MAE.

    Schema:
        house_id (str): ``H00001``.
        sqft (float): living area, log-normal around 1,700.
        bedrooms (int): 1-6, tied to sqft.
        bathrooms (float): 1-4 in halves.
        age_years (int): 0-120.
        lot_sqft (float): lot size.
        distance_to_center_km (float): 0.5-40.
        neighborhood (str): one of five.
        has_garage (int): 0/1.
        price (float): dollars; ~2% outliers (mansions and data-entry errors x10 / x0.1).

    Args:
        n: number of sales.
        seed: random seed.
        outlier_rate: share of outliers.

    Returns:
        A DataFrame.
    """
    rng = _rng(seed)
    sqft = rng.lognormal(np.log(1700), 0.35, size=n)
    beds = np.clip(np.round(sqft / 650 + rng.normal(0, 0.6, size=n)), 1, 6).astype(int)
    baths = np.clip(np.round((beds * 0.6 + rng.normal(0, 0.4, size=n)) * 2) / 2, 1, 4)
    age = rng.integers(0, 121, size=n)
    lot = sqft * rng.lognormal(np.log(3), 0.5, size=n)
    dist = rng.uniform(0.5, 40, size=n)
    hood = rng.choice(_HOODS, size=n, p=[0.2, 0.2, 0.25, 0.1, 0.25])
    premium = {
        "riverside": 1.15,
        "old-town": 1.25,
        "hillcrest": 1.05,
        "industrial": 0.75,
        "lakeside": 1.35,
    }
    garage = (rng.random(n) < 0.7).astype(int)
    price = (
        150 * sqft * np.array([premium[h] for h in hood]) * (1 - 0.002 * age) * (1 - 0.008 * dist)
        + 12000 * baths
        + 15000 * garage
        + 4 * lot
    ) * rng.lognormal(0, 0.12, size=n)
    k = int(round(outlier_rate * n))
    idx = rng.choice(n, size=k, replace=False)
    price[idx] *= rng.choice([10.0, 0.1, 4.0], size=k, p=[0.35, 0.35, 0.3])
    return pd.DataFrame(
        {
            "house_id": [f"H{i:05d}" for i in range(1, n + 1)],
            "sqft": np.round(sqft, 0),
            "bedrooms": beds,
            "bathrooms": baths,
            "age_years": age,
            "lot_sqft": np.round(lot, 0),
            "distance_to_center_km": np.round(dist, 2),
            "neighborhood": hood,
            "has_garage": garage,
            "price": np.round(price, -2),
        }
    )
