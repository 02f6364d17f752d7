"""Fills a SQLite ledger with synthetic accounts and history, written straight into the
tables in the format the daemon stores (test-data generation for the memory benchmark of
issue #3, not the daemon's write path).

    target/release/dunner migrate --database sqlite:///work/rss-data/ledger.db
    python3 benches/http/fill_ledger.py --accounts 1000000 --events-per-account 10 \
        --out /work/rss-data/ledger.db

The schema must exist (`dunner migrate`); the tables must be empty.

Accounts `A-0000000` … are the serialized `Account` of the `decide` contract (as
`dunner import` stores it: `flags` spelled out, `balance` as an exact decimal string),
spread over 15 states with phone numbers of those states' area codes. The number of
account `i` is a function of `i` (see `phone`), so that `mixed.lua` can dial it.

Events are the serialized `LedgerEvent`s (contacts by call, letter, email and text, and a
few consents) with `at` in whole seconds over the 60 days before 2026-04-07 and
`recorded_at` a few seconds later; ids are UUID v7 of `recorded_at` (as `store::new_id`
makes them). Each account gets `--events-per-account` events on average (Poisson-like,
0 … 2K). Within each batch of accounts the events are inserted in time order, so an
account's events are spread over the table as in a ledger that has been running, rather
than packed together. Python 3 standard library only.

For the reports of issue #5 (`benches/report.sh`), three optional extras (all off by
default, so the ledger of the memory benchmark is unchanged):

- `--holds-rate R`: that fraction of accounts has one legal hold (cease and desist,
  dispute, attorney, bankruptcy, deceased, identity theft) set in its `flags`, with the
  `flag_set` event that set it;
- `--promises-rate R`: that fraction of accounts made a `promise_to_pay` (due 3–20 days
  later), kept by a `payment_posted` most of the time, partly paid or broken otherwise;
- `--decisions-per-account K`: the decision log gets about K decisions per account (the
  `decisions` table as `check_and_record` writes it), 70% allowed, the rest deferred by
  the calling hours or the caps, or stopped by a hold.
"""

import argparse
import random
import sqlite3
import sys
import time

# state -> (area codes, city, postal code); the area codes are the state's own, so the
# engine places the numbers in the state's zones.
STATES = [
    ("NY", ["212", "518", "716"], "Albany", "12207"),
    ("MA", ["617", "508", "413"], "Boston", "02108"),
    ("WA", ["206", "509", "253"], "Spokane", "99201"),
    ("CA", ["213", "415", "559", "916"], "Fresno", "93721"),
    ("TX", ["214", "512", "713", "915"], "Austin", "78701"),
    ("FL", ["305", "407", "813"], "Orlando", "32801"),
    ("IL", ["312", "217"], "Springfield", "62701"),
    ("PA", ["215", "412"], "Pittsburgh", "15222"),
    ("OH", ["216", "614"], "Columbus", "43215"),
    ("GA", ["404", "912"], "Atlanta", "30303"),
    ("NC", ["704", "919"], "Raleigh", "27601"),
    ("MI", ["313", "616"], "Detroit", "48226"),
    ("NJ", ["201", "609"], "Trenton", "08608"),
    ("AZ", ["602", "520"], "Phoenix", "85004"),
    ("CO", ["303", "719"], "Denver", "80202"),
]
DEBTS = [
    ("credit_card", "Northwind Bank"),
    ("medical", "St. Elsewhere Clinic"),
    ("auto_loan", "Contoso Auto Finance"),
    ("utility", "Fabrikam Power"),
    ("personal_loan", "Woodgrove Lending"),
    ("telecom", "Tailspin Wireless"),
]
FLAGS = (
    '"flags":{"cease_and_desist":false,"attorney_represented":false,"disputed":false,'
    '"bankruptcy":false,"deceased":false,"identity_theft":false,'
    '"work_contact_prohibited":false}'
)
HOLDS = [
    ("cease_and_desist", "reg-f.cease-communication", "12 CFR 1006.6(c); 15 U.S.C. 1692c(c)"),
    ("disputed", "reg-f.dispute-pending", "12 CFR 1006.38(d)(2); 15 U.S.C. 1692g(b)"),
    ("attorney_represented", "reg-f.attorney-represented", "12 CFR 1006.6(b)(2)"),
    ("bankruptcy", "bankruptcy.stay-or-discharge", "11 U.S.C. 362(a)(6); 11 U.S.C. 524(a)(2)"),
    ("deceased", "reg-f.deceased-consumer", "12 CFR 1006.2(e), 1006.6(a)(4); comment 6(a)(4)-1"),
    ("identity_theft", "reg-f.identity-theft", "FCRA 615(f)"),
]
# (rule, pack, citation) of the deferrals in the decision log, with their weights.
DEFERRALS = [
    ("reg-f.convenient-hours", "us-federal", "12 CFR 1006.6(b)(1)(i); 15 U.S.C. 1692c(a)(1)", 40),
    ("reg-f.call-frequency", "us-federal", "12 CFR 1006.14(b)(2)(i)(A)", 20),
    ("reg-f.after-conversation", "us-federal", "12 CFR 1006.14(b)(2)(i)(B)", 15),
    ("ma.personal-number-communications", "us-ma", "940 CMR 7.04(1)(f); 209 CMR 18.16(1)(d)", 8),
    ("wa.weekly-communications", "us-wa", "RCW 19.16.250 (communications with debtor)", 7),
    ("reg-f.consumer-inconvenient-times", "us-federal", "12 CFR 1006.6(b)(1)(i); comment 6(b)(1)-1", 10),
]
DIGEST = "sha256:" + "5" * 64
CALL_OUTCOMES = ["no_answer"] * 5 + ["voicemail"] * 3 + ["busy", "conversation", "dropped"]

END = 1775520000  # 2026-04-07T00:00:00Z
SPAN = 60 * 86400  # the history covers the 60 days before END
DAY = 86400


def account_id(i):
    return f"A-{i:07d}"


def phone(i):
    """The mobile number of account `i` (mixed.lua computes the same)."""
    state = STATES[i % len(STATES)]
    codes = state[1]
    return f"+1{codes[(i // len(STATES)) % len(codes)]}555{i % 10000:04d}"


def second_phone(i):
    state = STATES[i % len(STATES)]
    return f"+1{state[1][0]}555{(i * 7 + 3) % 10000:04d}"


def email(i):
    return f"debtor{i}@example.com"


def flags_text(hold):
    """The `flags` object with the one `hold` (or none) set."""
    if hold is None:
        return FLAGS
    return FLAGS.replace(f'"{hold}":false', f'"{hold}":true')


def account_body(i, rng, hold=None):
    state, _, city, postal = STATES[i % len(STATES)]
    debt_type, creditor = DEBTS[rng.randrange(len(DEBTS))]
    cents = rng.randrange(2500, 2_500_000)
    placed = END - rng.randrange(30, 400) * DAY
    parts = [
        f'"id":"{account_id(i)}"',
        f'"debt_type":"{debt_type}"',
        f'"creditor":"{creditor}"',
        f'"balance":{{"amount":"{cents // 100}.{cents % 100:02d}","currency":"USD"}}',
        f'"placed_on":"{date_text(placed)}"',
    ]
    if rng.random() < 0.4:
        parts.append(f'"charged_off_on":"{date_text(placed - rng.randrange(30, 200) * DAY)}"')
    phones = [f'{{"number":"{phone(i)}","kind":"mobile"}}']
    if rng.random() < 0.3:
        kind = "work" if rng.random() < 0.5 else "landline"
        phones.append(f'{{"number":"{second_phone(i)}","kind":"{kind}"}}')
    consumer = (
        f'"consumer":{{"address":{{"state":"{state}","city":"{city}",'
        f'"postal_code":"{postal}"}},"phones":[{",".join(phones)}]'
    )
    has_email = rng.random() < 0.6
    if has_email:
        consumer += f',"emails":[{{"address":"{email(i)}","kind":"personal"}}]'
    parts.append(consumer + "}")
    parts.append(flags_text(hold))
    return "{" + ",".join(parts) + "}", placed, has_email


_DATES = {}


def date_text(seconds):
    day = seconds // DAY
    text = _DATES.get(day)
    if text is None:
        text = time.strftime("%Y-%m-%d", time.gmtime(day * DAY))
        _DATES[day] = text
    return text


def instant(seconds, micros=None):
    """RFC 3339 UTC; with `micros`, the six-digit form of `store::instant_text`."""
    rest = seconds % DAY
    clock = f"{date_text(seconds)}T{rest // 3600:02d}:{rest // 60 % 60:02d}:{rest % 60:02d}"
    return clock + "Z" if micros is None else f"{clock}.{micros:06d}Z"


def uuid7(millis, rng):
    bits = rng.getrandbits(74)
    value = (
        (millis << 80)
        | (0x7 << 76)
        | ((bits >> 62) << 64)
        | (0b10 << 62)
        | (bits & ((1 << 62) - 1))
    )
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def event_body(i, at, has_email, rng):
    """The serialized `LedgerEvent` of one history event of account `i`."""
    head = f'{{"at":"{instant(at)}",'
    r = rng.random()
    if r < 0.70:
        outcome = CALL_OUTCOMES[rng.randrange(len(CALL_OUTCOMES))]
        by = "consumer" if outcome == "conversation" and rng.random() < 0.3 else "collector"
        return (
            head + f'"type":"contact","channel":"call","outcome":"{outcome}",'
            f'"initiated_by":"{by}","contact_point":"{phone(i)}"}}'
        )
    if r < 0.82:
        return head + '"type":"contact","channel":"letter","outcome":"sent","initiated_by":"collector"}'
    if r < 0.92 and has_email:
        outcome = "delivered" if rng.random() < 0.9 else "bounced"
        return (
            head + f'"type":"contact","channel":"email","outcome":"{outcome}",'
            f'"initiated_by":"collector","contact_point":"{email(i)}"}}'
        )
    if r < 0.99:
        return (
            head + '"type":"contact","channel":"sms","outcome":"delivered",'
            f'"initiated_by":"collector","contact_point":"{phone(i)}"}}'
        )
    return head + '"type":"consent","channel":"sms","initiated_by":"consumer"}'


def money(cents):
    return f'{{"amount":"{cents // 100}.{cents % 100:02d}","currency":"USD"}}'


def arrangement_events(rng):
    """A promise to pay (at, body) and the payments that keep it, part of it, or none."""
    made = END - rng.randrange(SPAN)
    made = made - made % DAY + 14 * 3600 + rng.randrange(8 * 3600)
    due = made + rng.randrange(3, 21) * DAY
    cents = rng.randrange(2500, 50000)
    events = [
        (
            made,
            f'{{"at":"{instant(made)}","type":"promise_to_pay","initiated_by":"collector",'
            f'"amount":{money(cents)},"due_on":"{date_text(due)}"}}',
        )
    ]
    r = rng.random()
    if r < 0.85:
        paid = cents if r < 0.6 else cents // 2
        at = made + rng.randrange(due - made)
        if at < END:
            events.append(
                (
                    at,
                    f'{{"at":"{instant(at)}","type":"payment_posted","initiated_by":"collector",'
                    f'"amount":{money(paid)}}}',
                )
            )
    return events


def decision_row(i, rng):
    """One row of the decision log: (id, account_id, decided_at, outcome, digest, question,
    decision)."""
    at = END - rng.randrange(SPAN)
    r = rng.random()
    if r < 0.70:
        outcome, reasons, next_at = "allow", [], instant(at)
    elif r < 0.95:
        rule, pack, citation, _ = rng.choices(DEFERRALS, weights=[d[3] for d in DEFERRALS])[0]
        outcome, reasons, next_at = "defer", [(rule, pack, citation)], instant(at + 3600)
    else:
        _, rule, citation = HOLDS[rng.randrange(len(HOLDS) - 1)]  # no rule for identity theft
        outcome, reasons, next_at = "stop", [(rule, "us-federal", citation)], None
    reasons = ",".join(
        f'{{"rule":"{rule}","pack":"{pack}","citation":"{citation}","message":"Refused."}}'
        for rule, pack, citation in reasons
    )
    next_at = "null" if next_at is None else f'"{next_at}"'
    decision = (
        f'{{"allowed":{"true" if outcome == "allow" else "false"},"outcome":"{outcome}",'
        f'"next_allowed_at":{next_at},"reasons":[{reasons}],"warnings":[],"obligations":[],'
        f'"time_zones":["America/New_York"],"policy_digest":"{DIGEST}"}}'
    )
    question = (
        f'{{"account_id":"{account_id(i)}","at":"{instant(at)}","channel":"call",'
        f'"purpose":"collection","contact_point":"{phone(i)}","outcome":null}}'
    )
    micros = rng.randrange(1_000_000)
    return (
        uuid7(at * 1000 + micros // 1000, rng),
        account_id(i),
        instant(at, micros),
        outcome,
        DIGEST,
        question,
        decision,
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=1_000_000)
    parser.add_argument("--events-per-account", type=int, default=10)
    parser.add_argument("--out", required=True, help="the SQLite file (migrated, empty)")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--batch", type=int, default=50_000, help="accounts per transaction")
    parser.add_argument("--holds-rate", type=float, default=0.0,
                        help="fraction of accounts with a legal hold flag set")
    parser.add_argument("--promises-rate", type=float, default=0.0,
                        help="fraction of accounts with a promise to pay")
    parser.add_argument("--decisions-per-account", type=float, default=0.0,
                        help="mean number of logged decisions per account")
    args = parser.parse_args()

    rng = random.Random(args.seed)
    db = sqlite3.connect(args.out, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=OFF")
    db.execute("PRAGMA cache_size=-2000000")  # 2 GB for the random inserts into the id index
    for table in ("accounts", "events", "decisions"):
        if db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]:
            sys.exit(f"{args.out}: `{table}` is not empty")

    started = time.monotonic()
    total_events = 0
    total_decisions = 0
    k = args.events_per_account
    for first in range(0, args.accounts, args.batch):
        last = min(first + args.batch, args.accounts)
        accounts = []
        events = []
        decisions = []
        for i in range(first, last):
            hold = None
            if args.holds_rate and rng.random() < args.holds_rate:
                hold = HOLDS[rng.randrange(len(HOLDS))][0]
            body, placed, has_email = account_body(i, rng, hold)
            created = instant(placed + 43200, 0)
            accounts.append((account_id(i), body, created, created))
            # 0 … 2K events, mean K: the sum of two uniform draws.
            for _ in range(rng.randint(0, k) + rng.randint(0, k)):
                at = END - rng.randrange(SPAN)
                at = at - at % DAY + 13 * 3600 + rng.randrange(11 * 3600)  # 13:00–24:00 UTC
                recorded = at + rng.randrange(1, 6)
                micros = rng.randrange(1_000_000)
                events.append(
                    (
                        uuid7(recorded * 1000 + micros // 1000, rng),
                        account_id(i),
                        instant(at, 0),
                        event_body(i, at, has_email, rng),
                        instant(recorded, micros),
                    )
                )
            extra = []
            if hold is not None:
                at = END - rng.randrange(SPAN)
                extra.append((at, f'{{"at":"{instant(at)}","type":"flag_set","initiated_by":"collector","flag":"{hold}"}}'))
            if args.promises_rate and rng.random() < args.promises_rate:
                extra.extend(arrangement_events(rng))
            for at, text in extra:
                recorded = at + rng.randrange(1, 6)
                micros = rng.randrange(1_000_000)
                events.append(
                    (
                        uuid7(recorded * 1000 + micros // 1000, rng),
                        account_id(i),
                        instant(at, 0),
                        text,
                        instant(recorded, micros),
                    )
                )
            if args.decisions_per_account:
                n = round(args.decisions_per_account)
                for _ in range(rng.randint(0, n) + rng.randint(0, n)):
                    decisions.append(decision_row(i, rng))
        events.sort(key=lambda row: row[4])  # ledger order: as recorded
        decisions.sort(key=lambda row: row[2])
        db.execute("BEGIN")
        db.executemany(
            "INSERT INTO accounts (id, body, created_at, updated_at) VALUES (?, ?, ?, ?)",
            accounts,
        )
        db.executemany(
            "INSERT INTO events (id, account_id, at, body, recorded_at) VALUES (?, ?, ?, ?, ?)",
            events,
        )
        db.executemany(
            "INSERT INTO decisions (id, account_id, decided_at, outcome, policy_digest, question,"
            " decision) VALUES (?, ?, ?, ?, ?, ?, ?)",
            decisions,
        )
        db.execute("COMMIT")
        total_events += len(events)
        total_decisions += len(decisions)
        elapsed = time.monotonic() - started
        print(
            f"{last:>9} accounts {total_events:>10} events {total_decisions:>10} decisions"
            f"  {elapsed:7.1f} s",
            file=sys.stderr,
            flush=True,
        )
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    print(
        f"filled {args.out}: {args.accounts} accounts, {total_events} events, "
        f"{total_decisions} decisions "
        f"in {time.monotonic() - started:.1f} s"
    )


if __name__ == "__main__":
    main()
