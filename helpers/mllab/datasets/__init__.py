"""Seeded data for the labs: generators with documented schemas, and built-in format writers.

Nothing is downloaded: every data set is generated from a seed, the same on every machine.

========================  ====  =============================================================
generator                 lab   what for
========================  ====  =============================================================
clickstream(n, seed)      01    Kinesis / Firehose / Glue / Athena: ~1 KB JSON events, PII,
                                one hot partition key
telecom_customers(n, s)   02    EDA and feature engineering: duplicates, messy categories,
                                skew, outliers, missing values, PII, imbalanced churn
card_transactions(n, s)   03/4  XGBoost fraud model, imbalanced, learnable signal
demand_series(k, len, s)  03    DeepAR JSON Lines
support_tickets(n, s)     03    BlazingText supervised
logins(n, s)              03    Random Cut Forest anomalies
house_prices(n, s)        03    regression, outliers (RMSE vs MAE)
genai.product_docs(seed)  05    support-assistant corpus (PII to mask), labelled questions,
                                red-team prompts, fine-tuning pairs (:mod:`.genai`)
========================  ====  =============================================================
"""

from mllab.datasets import genai
from mllab.datasets.generators import (
    card_transactions,
    clickstream,
    demand_series,
    house_prices,
    logins,
    support_tickets,
    telecom_customers,
)
from mllab.datasets.writers import to_blazingtext, to_builtin_csv, to_jsonlines, tokenize

__all__ = [
    "card_transactions",
    "clickstream",
    "demand_series",
    "genai",
    "house_prices",
    "logins",
    "support_tickets",
    "telecom_customers",
    "to_blazingtext",
    "to_builtin_csv",
    "to_jsonlines",
    "tokenize",
]
