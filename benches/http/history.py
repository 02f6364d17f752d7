"""Placement and prior history for the seeded variant of benches/http/attempts.sh, shaped
like issue 15's workload: ACCOUNTS accounts H-0 … (Pennsylvania, so letters meet no cap
and every attempt is a write), each with 0–30 prior events (mean 15) over the 30 days
before 2026-04-07T15:00Z (the instant attempts.lua asks about), ages skewed to recent
(30 d × u²): 65% calls (no answer, voicemail, busy, conversation 12%, wrong party), 20%
texts, 15% emails. One seeded PRNG per account, so any prefix is the same.
Writes OUT/accounts.jsonl and OUT/events.jsonl for `dunner import`.
Usage: python3 benches/http/history.py OUT [ACCOUNTS]"""
import datetime
import json
import random
import sys

out = sys.argv[1]
accounts = int(sys.argv[2]) if len(sys.argv) > 2 else 100_000
T = datetime.datetime(2026, 4, 7, 15, 0, tzinfo=datetime.timezone.utc)
CALL_OUTCOMES = ["no_answer"] * 30 + ["voicemail"] * 30 + ["busy"] * 18 + ["conversation"] * 12 + ["wrong_party"] * 10

with open(f"{out}/accounts.jsonl", "w") as placed, open(f"{out}/events.jsonl", "w") as history:
    for i in range(accounts):
        rng = random.Random(i)
        account_id = f"H-{i}"
        placed.write(json.dumps({
            "id": account_id,
            "consumer": {"address": {"state": "PA"}, "time_zones": ["America/New_York"],
                         "phones": [{"number": "+12155550100", "kind": "mobile"}],
                         "emails": [{"address": f"h{i}@example.com", "kind": "personal"}]},
            "balance": {"amount": "100.00", "currency": "USD"},
        }) + "\n")
        for _ in range(rng.randint(0, 30)):
            age = datetime.timedelta(days=30) * rng.random() ** 2
            at = (T - age).replace(microsecond=0).isoformat().replace("+00:00", "Z")
            kind = rng.random()
            if kind < 0.65:
                event = {"channel": "call", "outcome": rng.choice(CALL_OUTCOMES),
                         "contact_point": "+12155550100"}
            elif kind < 0.85:
                event = {"channel": "sms", "outcome": "sent", "contact_point": "+12155550100"}
            else:
                event = {"channel": "email", "outcome": "sent", "contact_point": f"h{i}@example.com"}
            history.write(json.dumps({"account_id": account_id, "at": at, "type": "contact",
                                      "initiated_by": "collector", **event}) + "\n")
