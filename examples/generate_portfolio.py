#!/usr/bin/env python3
"""Generate a synthetic collections portfolio for dunner: accounts and their history.

Usage:
    python3 examples/generate_portfolio.py --accounts 1000 [--seed 7] [--as-of 2026-11-23] \
        --out-accounts portfolio.jsonl [--out-events history.jsonl]

Writes one account per line (the placement file `dunner import` reads) and, with
--out-events, the prior contact history (one ledger event per line, with its
`account_id`, each account's events in time order, accounts in file order). The same
--seed gives the same bytes. Python 3 standard library only.

What it holds:
- consumers spread over the states roughly by population, with Massachusetts, New
  York (New York City addresses included) and Washington over-weighted because the
  shipped rule packs cover them, and cities on both sides of the time-zone lines of the
  states that span two zones; about 5% of consumers owe 2-3 debts (one consumer id);
- 1-3 phones whose area codes mostly match the state (some do not: people move),
  emails for about 60%, explicit time zones for a minority, flags, opt-outs and
  inconvenient times for a few percent;
- balances roughly log-normal from $50 to $25,000, a few already at 0.00;
- the validation-notice letter on the day of placement, however long ago;
- over the 60 days before --as-of (never before placement): calls with a realistic
  mix of outcomes, mostly between 8am and 9pm in the consumer's local time, emails,
  consents, payments, flags set and cleared, opt-outs, promises to pay (kept, broken
  or pending) and payment plans (installments paid, missed, some plans cancelled);
  no collection calls or emails while a promise or a plan is being kept.

Every phone number is in a 555-01XX block (reserved for fiction) and every email
address is at example.com/.org/.net, so a generated portfolio can never reach a real
person.

A summary (accounts by state, events by type, elapsed time) goes to stderr.
"""

import argparse
import datetime
import sys
import time
from bisect import bisect
from random import Random

# --------------------------------------------------------------------------- tables

ZONES = {
    # IANA name: (standard offset in hours, observes US daylight saving time)
    "America/New_York": (-5, True),
    "America/Detroit": (-5, True),
    "America/Indiana/Indianapolis": (-5, True),
    "America/Kentucky/Louisville": (-5, True),
    "America/Chicago": (-6, True),
    "America/Menominee": (-6, True),
    "America/Denver": (-7, True),
    "America/Boise": (-7, True),
    "America/Phoenix": (-7, False),
    "America/Los_Angeles": (-8, True),
    "America/Anchorage": (-9, True),
    "Pacific/Honolulu": (-10, False),
}

E = "America/New_York"
C = "America/Chicago"
M = "America/Denver"
P = "America/Los_Angeles"

# state: (population in millions, weight boost, [(city, zip low, zip high, zone,
# area codes, share of the state's accounts)])
STATES = {
    "AL": (5.0, 1, [("Birmingham", 35203, 35244, C, (205, 659), 4), ("Montgomery", 36104, 36117, C, (334,), 2),
                    ("Huntsville", 35801, 35816, C, (256, 938), 3), ("Mobile", 36602, 36695, C, (251,), 2)]),
    "AK": (0.7, 1, [("Anchorage", 99501, 99518, "America/Anchorage", (907,), 3),
                    ("Fairbanks", 99701, 99709, "America/Anchorage", (907,), 1)]),
    "AZ": (7.2, 1, [("Phoenix", 85003, 85054, "America/Phoenix", (602, 480, 623), 6),
                    ("Tucson", 85701, 85750, "America/Phoenix", (520,), 3),
                    ("Mesa", 85201, 85215, "America/Phoenix", (480,), 2)]),
    "AR": (3.0, 1, [("Little Rock", 72201, 72227, C, (501,), 2), ("Fayetteville", 72701, 72704, C, (479,), 1)]),
    "CA": (39.5, 1, [("Los Angeles", 90001, 90089, P, (213, 323, 310, 818, 424, 747), 12),
                     ("San Diego", 92101, 92154, P, (619, 858), 5), ("San Jose", 95110, 95139, P, (408, 669), 3),
                     ("San Francisco", 94102, 94134, P, (415, 628), 3), ("Fresno", 93701, 93728, P, (559,), 2),
                     ("Sacramento", 95811, 95838, P, (916, 279), 3), ("Oakland", 94601, 94621, P, (510, 341), 2),
                     ("Riverside", 92501, 92509, P, (951,), 3), ("Long Beach", 90802, 90815, P, (562,), 2),
                     ("Bakersfield", 93301, 93314, P, (661,), 2), ("Anaheim", 92801, 92808, P, (714, 657), 2)]),
    "CO": (5.8, 1, [("Denver", 80202, 80249, M, (303, 720), 5), ("Colorado Springs", 80903, 80951, M, (719,), 3),
                    ("Aurora", 80010, 80019, M, (303, 720), 2), ("Fort Collins", 80521, 80528, M, (970,), 1)]),
    "CT": (3.6, 1, [("Hartford", 6101, 6120, E, (860, 959), 2), ("Bridgeport", 6604, 6610, E, (203, 475), 2),
                    ("New Haven", 6510, 6519, E, (203,), 2)]),
    "DE": (1.0, 1, [("Wilmington", 19801, 19810, E, (302,), 2), ("Dover", 19901, 19904, E, (302,), 1)]),
    "DC": (0.7, 1, [("Washington", 20001, 20037, E, (202, 771), 1)]),
    "FL": (21.5, 1, [("Miami", 33125, 33199, E, (305, 786), 6), ("Tampa", 33602, 33647, E, (813, 656), 4),
                     ("Orlando", 32801, 32839, E, (407, 689, 321), 4), ("Jacksonville", 32202, 32277, E, (904,), 3),
                     ("Tallahassee", 32301, 32317, E, (850, 448), 1), ("Pensacola", 32501, 32534, C, (850, 448), 2),
                     ("Panama City", 32401, 32413, C, (850,), 1), ("Fort Lauderdale", 33301, 33351, E, (954, 754), 3),
                     ("St. Petersburg", 33701, 33716, E, (727,), 2)]),
    "GA": (10.7, 1, [("Atlanta", 30303, 30350, E, (404, 470, 678, 770), 8), ("Savannah", 31401, 31419, E, (912,), 2),
                     ("Augusta", 30901, 30909, E, (706, 762), 2), ("Columbus", 31901, 31909, E, (706,), 1)]),
    "HI": (1.5, 1, [("Honolulu", 96813, 96826, "Pacific/Honolulu", (808,), 4),
                    ("Hilo", 96720, 96721, "Pacific/Honolulu", (808,), 1)]),
    "ID": (1.8, 1, [("Boise", 83702, 83716, "America/Boise", (208, 986), 4),
                    ("Idaho Falls", 83401, 83406, "America/Boise", (208,), 1),
                    ("Coeur d'Alene", 83814, 83816, P, (208, 986), 2), ("Lewiston", 83501, 83501, P, (208,), 1)]),
    "IL": (12.8, 1, [("Chicago", 60601, 60661, C, (312, 773, 872), 10), ("Aurora", 60502, 60506, C, (630, 331), 2),
                     ("Rockford", 61101, 61114, C, (815, 779), 2), ("Springfield", 62701, 62712, C, (217, 447), 1),
                     ("Naperville", 60540, 60565, C, (630,), 1)]),
    "IN": (6.8, 1, [("Indianapolis", 46201, 46260, "America/Indiana/Indianapolis", (317, 463), 6),
                    ("Fort Wayne", 46802, 46825, "America/Indiana/Indianapolis", (260,), 2),
                    ("South Bend", 46601, 46637, "America/Indiana/Indianapolis", (574,), 2),
                    ("Evansville", 47708, 47725, C, (812, 930), 2), ("Gary", 46402, 46409, C, (219,), 2)]),
    "IA": (3.2, 1, [("Des Moines", 50309, 50321, C, (515,), 2), ("Cedar Rapids", 52401, 52411, C, (319,), 1)]),
    "KS": (2.9, 1, [("Wichita", 67202, 67235, C, (316,), 3), ("Overland Park", 66204, 66223, C, (913,), 3),
                    ("Topeka", 66603, 66619, C, (785,), 1), ("Goodland", 67735, 67735, M, (785,), 1)]),
    "KY": (4.5, 1, [("Louisville", 40202, 40299, "America/Kentucky/Louisville", (502,), 4),
                    ("Lexington", 40502, 40517, E, (859,), 3), ("Bowling Green", 42101, 42104, C, (270, 364), 2),
                    ("Paducah", 42001, 42003, C, (270,), 1)]),
    "LA": (4.7, 1, [("New Orleans", 70112, 70131, C, (504,), 3), ("Baton Rouge", 70801, 70820, C, (225,), 2),
                    ("Shreveport", 71101, 71119, C, (318,), 1)]),
    "ME": (1.4, 1, [("Portland", 4101, 4112, E, (207,), 2), ("Bangor", 4401, 4402, E, (207,), 1)]),
    "MD": (6.2, 1, [("Baltimore", 21201, 21239, E, (410, 443, 667), 4), ("Silver Spring", 20901, 20910, E, (301, 240), 2),
                    ("Frederick", 21701, 21704, E, (301, 240), 1)]),
    "MA": (7.0, 2.5, [("Boston", 2108, 2136, E, (617, 857), 8), ("Worcester", 1601, 1610, E, (508, 774), 3),
                      ("Springfield", 1101, 1129, E, (413,), 2), ("Cambridge", 2138, 2142, E, (617, 857), 2),
                      ("Lowell", 1850, 1854, E, (978, 351), 2), ("New Bedford", 2740, 2746, E, (508, 774), 1),
                      ("Quincy", 2169, 2171, E, (617,), 1), ("Brockton", 2301, 2303, E, (508,), 1)]),
    "MI": (10.1, 1, [("Detroit", 48201, 48243, "America/Detroit", (313,), 6),
                     ("Grand Rapids", 49503, 49548, "America/Detroit", (616,), 3),
                     ("Lansing", 48906, 48933, "America/Detroit", (517,), 2),
                     ("Ann Arbor", 48103, 48109, "America/Detroit", (734,), 2),
                     ("Marquette", 49855, 49855, "America/Detroit", (906,), 1),
                     ("Iron Mountain", 49801, 49802, "America/Menominee", (906,), 1),
                     ("Menominee", 49858, 49858, "America/Menominee", (906,), 1)]),
    "MN": (5.7, 1, [("Minneapolis", 55401, 55488, C, (612,), 3), ("Saint Paul", 55101, 55130, C, (651,), 2),
                    ("Duluth", 55802, 55812, C, (218,), 1)]),
    "MS": (3.0, 1, [("Jackson", 39201, 39216, C, (601, 769), 2), ("Gulfport", 39501, 39507, C, (228,), 1)]),
    "MO": (6.2, 1, [("Kansas City", 64101, 64164, C, (816,), 3), ("St. Louis", 63101, 63147, C, (314, 557), 3),
                    ("Springfield", 65802, 65810, C, (417,), 1)]),
    "MT": (1.1, 1, [("Billings", 59101, 59106, M, (406,), 1), ("Missoula", 59801, 59808, M, (406,), 1)]),
    "NE": (2.0, 1, [("Omaha", 68102, 68164, C, (402, 531), 4), ("Lincoln", 68502, 68528, C, (402,), 2),
                    ("North Platte", 69101, 69101, C, (308,), 1), ("Scottsbluff", 69361, 69361, M, (308,), 1)]),
    "NV": (3.1, 1, [("Las Vegas", 89101, 89183, P, (702, 725), 4), ("Reno", 89501, 89523, P, (775,), 1)]),
    "NH": (1.4, 1, [("Manchester", 3101, 3109, E, (603,), 1), ("Nashua", 3060, 3064, E, (603,), 1)]),
    "NJ": (9.3, 1, [("Newark", 7102, 7114, E, (973, 862), 3), ("Jersey City", 7302, 7311, E, (201, 551), 3),
                    ("Trenton", 8608, 8638, E, (609, 640), 1), ("Camden", 8101, 8105, E, (856,), 1)]),
    "NM": (2.1, 1, [("Albuquerque", 87102, 87123, M, (505,), 3), ("Las Cruces", 88001, 88012, M, (575,), 1)]),
    "NY": (20.2, 1.5, [("New York", 10001, 10282, E, (212, 646, 917, 332), 18),
                       ("Brooklyn", 11201, 11256, E, (718, 347, 929, 917), 25),
                       ("Bronx", 10451, 10475, E, (718, 347, 929), 14),
                       ("Queens", 11354, 11436, E, (718, 347, 929), 20),
                       ("Staten Island", 10301, 10314, E, (718, 347), 5),
                       ("Buffalo", 14201, 14228, E, (716,), 8), ("Rochester", 14604, 14626, E, (585,), 7),
                       ("Yonkers", 10701, 10710, E, (914,), 6), ("Syracuse", 13202, 13224, E, (315, 680), 5),
                       ("Albany", 12203, 12210, E, (518, 838), 4), ("Hempstead", 11550, 11551, E, (516, 363), 8)]),
    "NC": (10.4, 1, [("Charlotte", 28202, 28277, E, (704, 980), 4), ("Raleigh", 27601, 27617, E, (919, 984), 3),
                     ("Greensboro", 27401, 27455, E, (336, 743), 2), ("Durham", 27701, 27713, E, (919,), 1)]),
    "ND": (0.8, 1, [("Fargo", 58102, 58104, C, (701,), 3), ("Bismarck", 58501, 58504, C, (701,), 2),
                    ("Williston", 58801, 58801, C, (701,), 1), ("Dickinson", 58601, 58602, M, (701,), 1)]),
    "OH": (11.8, 1, [("Columbus", 43201, 43235, E, (614, 380), 4), ("Cleveland", 44101, 44135, E, (216,), 3),
                     ("Cincinnati", 45202, 45249, E, (513, 283), 3), ("Toledo", 43604, 43623, E, (419, 567), 2),
                     ("Akron", 44301, 44333, E, (330, 234), 2)]),
    "OK": (4.0, 1, [("Oklahoma City", 73102, 73173, C, (405, 572), 3), ("Tulsa", 74103, 74137, C, (918, 539), 2)]),
    "OR": (4.2, 1, [("Portland", 97201, 97236, P, (503, 971), 5), ("Eugene", 97401, 97408, P, (541, 458), 2),
                    ("Salem", 97301, 97317, P, (503, 971), 2), ("Ontario", 97914, 97914, "America/Boise", (541,), 1)]),
    "PA": (13.0, 1, [("Philadelphia", 19102, 19154, E, (215, 267, 445), 6), ("Pittsburgh", 15201, 15244, E, (412, 878), 4),
                     ("Allentown", 18101, 18109, E, (610, 484), 2), ("Erie", 16501, 16511, E, (814,), 1),
                     ("Harrisburg", 17101, 17113, E, (717, 223), 2)]),
    "RI": (1.1, 1, [("Providence", 2903, 2909, E, (401,), 2), ("Warwick", 2886, 2889, E, (401,), 1)]),
    "SC": (5.1, 1, [("Columbia", 29201, 29229, E, (803, 839), 2), ("Charleston", 29401, 29492, E, (843, 854), 2),
                    ("Greenville", 29601, 29617, E, (864,), 2)]),
    "SD": (0.9, 1, [("Sioux Falls", 57103, 57110, C, (605,), 3), ("Pierre", 57501, 57501, C, (605,), 1),
                    ("Rapid City", 57701, 57703, M, (605,), 2)]),
    "TN": (6.9, 1, [("Nashville", 37201, 37221, C, (615, 629), 4), ("Memphis", 38103, 38141, C, (901,), 3),
                    ("Knoxville", 37902, 37938, E, (865,), 2), ("Chattanooga", 37402, 37421, E, (423,), 2)]),
    "TX": (29.1, 1, [("Houston", 77002, 77099, C, (713, 281, 832, 346), 10), ("San Antonio", 78201, 78266, C, (210, 726), 5),
                     ("Dallas", 75201, 75254, C, (214, 469, 972, 945), 6), ("Austin", 78701, 78759, C, (512, 737), 4),
                     ("Fort Worth", 76102, 76179, C, (817, 682), 4), ("El Paso", 79901, 79938, M, (915,), 3),
                     ("Lubbock", 79401, 79424, C, (806,), 1), ("Corpus Christi", 78401, 78418, C, (361,), 1)]),
    "UT": (3.3, 1, [("Salt Lake City", 84101, 84124, M, (801, 385), 3), ("Provo", 84601, 84606, M, (801, 385), 1),
                    ("Ogden", 84401, 84405, M, (801,), 1)]),
    "VT": (0.6, 1, [("Burlington", 5401, 5408, E, (802,), 1)]),
    "VA": (8.6, 1, [("Virginia Beach", 23451, 23464, E, (757, 948), 3), ("Richmond", 23219, 23237, E, (804,), 2),
                    ("Arlington", 22201, 22213, E, (703, 571), 2), ("Roanoke", 24011, 24019, E, (540,), 1)]),
    "WA": (7.7, 1.8, [("Seattle", 98101, 98199, P, (206, 564), 7), ("Spokane", 99201, 99224, P, (509,), 3),
                      ("Tacoma", 98402, 98422, P, (253,), 3), ("Vancouver", 98660, 98687, P, (360, 564), 2),
                      ("Bellevue", 98004, 98008, P, (425,), 2), ("Yakima", 98901, 98908, P, (509,), 1),
                      ("Everett", 98201, 98208, P, (425,), 1)]),
    "WV": (1.8, 1, [("Charleston", 25301, 25314, E, (304, 681), 1), ("Huntington", 25701, 25705, E, (304,), 1)]),
    "WI": (5.9, 1, [("Milwaukee", 53202, 53233, C, (414,), 3), ("Madison", 53703, 53719, C, (608,), 2),
                    ("Green Bay", 54301, 54313, C, (920, 274), 1)]),
    "WY": (0.6, 1, [("Cheyenne", 82001, 82009, M, (307,), 1), ("Casper", 82601, 82609, M, (307,), 1)]),
}

NYC = ("New York", "Brooklyn", "Bronx", "Queens", "Staten Island")

DEBT_TYPES = {
    # debt type: (weight, median balance, [creditors], share charged off)
    "credit_card": (30, 1800, ["Northwind Bank", "Contoso Card Services", "Woodgrove Bank", "Tailspin Credit"], 0.8),
    "medical": (22, 450, ["St. Elsewhere Clinic", "Lakeside Regional Hospital", "Riverbend Physicians Group"], 0.0),
    "auto_loan": (8, 7500, ["Contoso Auto Finance", "Fourth Coffee Motors Credit"], 0.7),
    "personal_loan": (12, 3000, ["Woodgrove Lending", "Alpine Ski Finance", "Humongous Loans"], 0.6),
    "utility": (10, 250, ["Fabrikam Power", "Litware Gas & Water"], 0.0),
    "telecom": (10, 300, ["Proseware Wireless", "Wingtip Telecom"], 0.0),
    "student_loan": (8, 9000, ["Adventure Works Student Finance", "Graphic Design Institute Loans"], 0.5),
}

FIRST = ("james mary robert patricia john jennifer michael linda david elizabeth william barbara richard "
         "susan joseph jessica thomas sarah charles karen chris lisa daniel nancy matthew betty anthony "
         "sandra mark ashley jose maria luis ana wei mei jamal aisha dmitri olga kwame ngozi priya raj").split()
LAST = ("smith johnson williams brown jones garcia miller davis rodriguez martinez hernandez lopez gonzalez "
        "wilson anderson thomas taylor moore jackson martin lee perez thompson white harris sanchez clark "
        "ramirez lewis robinson walker young allen king wright scott nguyen hill flores green adams nelson "
        "baker hall rivera campbell mitchell carter roberts chen patel kim okafor ivanov").split()
PERSONAL_DOMAINS = ("example.com", "example.org", "example.net")

CALL_OUTCOMES = (("no_answer", 40), ("voicemail", 26), ("busy", 5), ("not_in_service", 2), ("dropped", 3),
                 ("conversation", 18), ("wrong_party", 6))
FLAG_EVENTS = (("disputed", 40), ("cease_and_desist", 25), ("attorney_represented", 20), ("bankruptcy", 10),
               ("deceased", 5))
ACCOUNT_FLAGS = (("cease_and_desist", 20), ("attorney_represented", 15), ("disputed", 25), ("bankruptcy", 10),
                 ("deceased", 5), ("identity_theft", 5), ("work_contact_prohibited", 20))
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

HISTORY_DAYS = 60
PLACEMENT_DAYS = 180
DAY = 86400


def cumulative(pairs):
    """(values, cumulative weights, total) for weighted picks with bisect."""
    values, cum, total = [], [], 0.0
    for value, weight in pairs:
        total += weight
        values.append(value)
        cum.append(total)
    return values, cum, total


class Pick:
    """A weighted choice, faster than Random.choices for one item at a time."""

    __slots__ = ("values", "cum", "total")

    def __init__(self, pairs):
        self.values, self.cum, self.total = cumulative(pairs)

    def __call__(self, rng):
        return self.values[bisect(self.cum, rng.random() * self.total)]


def money(cents):
    return '{"amount":"%d.%02d","currency":"USD"}' % (cents // 100, cents % 100)


class Calendar:
    """Dates as proleptic ordinals; instants as seconds since ordinal 0 (UTC)."""

    def __init__(self, as_of):
        self.as_of = as_of.toordinal()
        self.first = self.as_of - PLACEMENT_DAYS - 500
        last = self.as_of + 800
        self.dates = {}
        self.dst = {}
        for ordinal in range(self.first, last):
            day = datetime.date.fromordinal(ordinal)
            self.dates[ordinal] = day.isoformat()
        for year in range(datetime.date.fromordinal(self.first).year, datetime.date.fromordinal(last).year + 1):
            # US rule since 2007: second Sunday in March to first Sunday in November, at
            # 02:00 local. Days are whole here: calls are placed long after 02:00.
            march = datetime.date(year, 3, 1)
            start = march + datetime.timedelta(days=(6 - march.weekday()) % 7 + 7)
            november = datetime.date(year, 11, 1)
            end = november + datetime.timedelta(days=(6 - november.weekday()) % 7)
            self.dst[year] = (start.toordinal(), end.toordinal())
        self.hms = ["%02d:%02d:%02d" % (s // 3600, s // 60 % 60, s % 60) for s in range(DAY)]
        self.offsets = {}
        for zone, (standard, observes) in ZONES.items():
            table = {}
            for ordinal in range(self.first, last):
                year = datetime.date.fromordinal(ordinal).year
                start, end = self.dst[year]
                summer = observes and start <= ordinal < end
                table[ordinal] = -(standard + (1 if summer else 0)) * 3600
            self.offsets[zone] = table

    def instant(self, t):
        return "%sT%sZ" % (self.dates[t // DAY], self.hms[t % DAY])

    def local(self, zone, ordinal, second_of_day):
        """The UTC instant of a local wall time."""
        return ordinal * DAY + second_of_day + self.offsets[zone][ordinal]

    def add_months(self, ordinal, months, day_of_month):
        day = datetime.date.fromordinal(ordinal)
        month = day.month - 1 + months
        return datetime.date(day.year + month // 12, month % 12 + 1, day_of_month).toordinal()


# ------------------------------------------------------------------------ generator


class Generator:
    def __init__(self, seed, as_of):
        self.rng = Random(seed)
        random = self.rng.random
        # `int(random() * n)`: a third of the cost of Random.randrange, which dominates.
        self.below = lambda n: int(random() * n)
        self.cal = Calendar(as_of)
        self.as_of = self.cal.as_of
        self.as_of_t = self.as_of * DAY
        self.state = Pick((code, pop * boost) for code, (pop, boost, _) in STATES.items())
        self.cities = {code: Pick((city, city[5]) for city in cities) for code, (_, _, cities) in STATES.items()}
        self.all_area_codes = [code for (_, _, cities) in STATES.values() for city in cities for code in city[4]]
        self.debt_type = Pick((name, spec[0]) for name, spec in DEBT_TYPES.items())
        self.outcome = Pick(CALL_OUTCOMES)
        self.flag_event = Pick(FLAG_EVENTS)
        self.account_flag = Pick(ACCOUNT_FLAGS)
        self.call_hour = Pick([(7, 1.5)] + [(h, w) for h, w in zip(range(8, 21), (4, 7, 8, 7, 6, 5, 5, 6, 7, 9, 9, 8, 6))]
                              + [(21, 1.5)])
        self.by_state = {}
        self.nyc = 0
        self.consumers = 0
        self.events_by_type = {}

    # ------------------------------------------------------------------ consumers

    def consumer(self, index):
        rng = self.rng
        below = self.below
        state = self.state(rng)
        city = self.cities[state](rng)
        name, zip_low, zip_high, zone, area_codes, _ = city
        postal = "%05d" % (zip_low + below(zip_high - zip_low + 1))
        if rng.random() < 0.01:
            address = '{"state":"%s","postal_code":"%s"}' % (state, postal)
        else:
            address = '{"state":"%s","city":"%s","postal_code":"%s"}' % (state, name, postal)
        first = FIRST[below(len(FIRST))]
        last = LAST[below(len(LAST))]
        count = 1 + (rng.random() < 0.45) + (rng.random() < 0.12)
        phones = []
        numbers = []
        for i in range(count):
            if rng.random() < 0.12:
                area = self.all_area_codes[below(len(self.all_area_codes))]
            else:
                area = area_codes[below(len(area_codes))]
            number = "+1%d5550%03d" % (area, 100 + below(100))
            if number in numbers:
                continue
            if i == 0:
                kind = "mobile" if rng.random() < 0.75 else "landline"
            else:
                roll = rng.random()
                kind = "mobile" if roll < 0.4 else "landline" if roll < 0.7 else "work"
            numbers.append(number)
            phones.append((number, kind))
        emails = []
        if rng.random() < 0.6:
            domain = PERSONAL_DOMAINS[below(3)]
            if rng.random() < 0.85:
                emails.append(("%s.%s%d@%s" % (first, last, below(1000), domain), "personal"))
                if rng.random() < 0.1:
                    emails.append(("%s.%s@corp.%s" % (first, last, domain), "work"))
            else:
                emails.append(("%s.%s@corp.%s" % (first, last, domain), "work"))
        parts = ['"id":"C-%07d"' % index, '"address":' + address]
        if rng.random() < 0.08:
            parts.append('"time_zones":["%s"]' % zone)
        parts.append('"phones":[%s]' % ",".join('{"number":"%s","kind":"%s"}' % p for p in phones))
        if emails:
            parts.append('"emails":[%s]' % ",".join('{"address":"%s","kind":"%s"}' % e for e in emails))
        self.consumers += 1
        return {
            "json": "{" + ",".join(parts) + "}",
            "state": state,
            "nyc": state == "NY" and name in NYC,
            "zone": zone,
            "phones": phones,
            "emails": emails,
        }

    # ------------------------------------------------------------------- accounts

    def account(self, index, consumer, out_events):
        rng = self.rng
        below = self.below
        debt_type = self.debt_type(rng)
        _, median, creditors, charged_off_share = DEBT_TYPES[debt_type]
        creditor = creditors[below(len(creditors))]
        dollars = min(25000.0, max(50.0, rng.lognormvariate(0.0, 0.9) * median))
        balance = int(round(dollars * 100))
        if rng.random() < 0.005:
            balance = 0
        if rng.random() < 0.35:
            days_ago = below(30)
        else:
            days_ago = 30 + below(PLACEMENT_DAYS - 30)
        placed = self.as_of - days_ago
        account_id = "A-%07d" % index
        parts = [
            '"id":"%s"' % account_id,
            '"debt_type":"%s"' % debt_type,
            '"creditor":"%s"' % creditor,
            '"balance":' + money(balance),
            '"placed_on":"%s"' % self.cal.dates[placed],
        ]
        if rng.random() < charged_off_share:
            parts.append('"charged_off_on":"%s"' % self.cal.dates[placed - 30 - below(400)])
        parts.append('"consumer":' + consumer["json"])

        # Conditions known at placement.
        held = None
        if rng.random() < 0.03:
            held = self.account_flag(rng)
            parts.append('"flags":{"%s":true}' % held)
        opted_out = []
        if rng.random() < 0.02:
            roll = rng.random()
            if roll < 0.35 and consumer["emails"]:
                opted_out.append("email")
            elif roll < 0.6:
                opted_out.append(consumer["phones"][below(len(consumer["phones"]))][0])
            elif roll < 0.75 and consumer["emails"]:
                opted_out.append(consumer["emails"][0][0])
            else:
                opted_out.append("sms")
            parts.append('"opted_out":[%s]' % ",".join('"%s"' % o for o in opted_out))
        if rng.random() < 0.02:
            roll = rng.random()
            if roll < 0.4:
                days = sorted(rng.sample(range(7), 2))
                entry = '{"days":["%s","%s"],"from":"12:00","to":"13:00"}' % (WEEKDAYS[days[0]], WEEKDAYS[days[1]])
            elif roll < 0.7:
                entry = '{"from":"08:00","to":"10:00"}'
            else:
                entry = '{"days":["%s"],"from":"00:00","to":"24:00","until":"%s"}' % (
                    WEEKDAYS[below(7)], self.cal.dates[self.as_of + 10 + below(60)])
            parts.append('"inconvenient_times":[%s]' % entry)
        if rng.random() < 0.01:
            parts.append('"inconvenient_places":["work"]')

        state = consumer["state"]
        self.by_state[state] = self.by_state.get(state, 0) + 1
        if consumer["nyc"]:
            self.nyc += 1
        line = "{" + ",".join(parts) + "}"
        if out_events is None:
            return line, None
        return line, self.history(account_id, consumer, placed, balance, held, opted_out)

    # -------------------------------------------------------------------- history

    def history(self, account_id, consumer, placed, balance, held, opted_out):
        rng = self.rng
        below = self.below
        cal = self.cal
        start = max(placed, self.as_of - HISTORY_DAYS)
        span = self.as_of - start  # local days start .. as_of - 1
        if span <= 0:
            return []  # placed on --as-of: everything is still to do
        zone = consumer["zone"]
        as_of_t = self.as_of_t
        events = []  # (instant, kind, json body after "at")

        def add(t, kind, body):
            if t >= as_of_t:
                t = as_of_t - 60 - below(3600)
            events.append((t, kind, body))

        def local_time(ordinal, hour_pick=True):
            hour = self.call_hour(rng) if hour_pick else 9 + below(8)
            return cal.local(zone, ordinal, hour * 3600 + below(3600))

        # Contact stops at a flag (cease and desist, attorney, ...) or payment in full,
        # and resumes when a dispute is cleared.
        stop = as_of_t
        resume = as_of_t
        if held in ("cease_and_desist", "attorney_represented", "bankruptcy", "deceased", "identity_theft",
                    "disputed"):
            stop = 0
        phones = [p for p in consumer["phones"] if p[0] not in opted_out]
        if "call" in opted_out:
            phones = []
        emails = [e for e in consumer["emails"] if e[0] not in opted_out]
        if "email" in opted_out:
            emails = []

        # A consent to email, given in a call or on the payment portal.
        consent_email = False
        if emails and rng.random() < 0.2:
            consent_email = True
            add(local_time(start + below(max(1, span // 3))), "consent",
                '"type":"consent","channel":"email","initiated_by":"consumer","contact_point":"%s"' % emails[0][0])

        # A flag set during the history.
        if stop and rng.random() < 0.015 and span > 3:
            flag = self.flag_event(rng)
            flag_t = local_time(start + 1 + below(span - 1), False)
            add(flag_t, "flag_set", '"type":"flag_set","flag":"%s"' % flag)
            stop = flag_t
            if flag == "disputed" and rng.random() < 0.35:
                cleared_t = flag_t + (10 + below(20)) * DAY
                if cleared_t < as_of_t:
                    add(cleared_t, "flag_cleared", '"type":"flag_cleared","flag":"disputed"')
                    resume = cleared_t

        # An opt-out during the history: no email, or not this number, from then on.
        email_stop = as_of_t
        phone_stop = (None, as_of_t)
        if rng.random() < 0.015 and span > 3:
            opt_t = local_time(start + 1 + below(span - 1))
            if emails and (rng.random() < 0.5 or not phones):
                add(opt_t, "opted_out", '"type":"opted_out","channel":"email"')
                email_stop = opt_t
            elif phones:
                add(opt_t, "opted_out", '"type":"opted_out","contact_point":"%s"' % phones[0][0])
                phone_stop = (phones[0][0], opt_t)

        def contact_allowed(t):
            return t < stop or t > resume

        # The validation notice goes out on the day of placement (kept even when that is
        # before the 60 days, so that a planner knows it was sent); a reminder later.
        if rng.random() < 0.97:
            t = cal.local(zone, placed, 10 * 3600 + below(6 * 3600))
            if contact_allowed(t):
                add(t, "letter", '"type":"contact","channel":"letter","outcome":"sent","purpose":"validation_notice"')
        if span > 20 and rng.random() < 0.1:
            t = local_time(start + 10 + below(span - 10), False)
            if contact_allowed(t):
                add(t, "letter", '"type":"contact","channel":"letter","outcome":"sent"')

        # Calls: a per-account intensity, at most one a day from us.
        remaining = balance
        conversations = []
        if phones:
            intensity = 0.025 + rng.random() * 0.11
            calls = int(span * intensity + rng.random())
            if calls:
                days = rng.sample(range(span), min(span, calls))
                for offset in days:
                    t = local_time(start + offset)
                    if not contact_allowed(t):
                        continue
                    number, _ = phones[0] if rng.random() < 0.7 else phones[below(len(phones))]
                    if number == phone_stop[0] and t >= phone_stop[1]:
                        continue
                    outcome = self.outcome(rng)
                    add(t, "call", '"type":"contact","channel":"call","outcome":"%s","contact_point":"%s"'
                        % (outcome, number))
                    if outcome == "conversation":
                        conversations.append(t)
            # The consumer calls back now and then.
            if span > 2 and rng.random() < 0.06:
                t = local_time(start + below(span))
                add(t, "inbound_call", '"type":"contact","channel":"call","outcome":"conversation",'
                    '"initiated_by":"consumer","contact_point":"%s"' % phones[0][0])
                conversations.append(t)

        # Emails, where an address is known and usable.
        if emails:
            count = int(span * rng.random() * 0.05 + rng.random())
            if consumer["nyc"] and not consent_email:
                count = 0
            for _ in range(count):
                t = local_time(start + below(span), False)
                if not contact_allowed(t) or t >= email_stop:
                    continue
                outcome = "bounced" if rng.random() < 0.03 else "sent"
                add(t, "email", '"type":"contact","channel":"email","outcome":"%s","contact_point":"%s"'
                    % (outcome, emails[0][0]))

        # Arrangements and payments follow a conversation.
        if remaining > 0 and span > 2:
            roll = rng.random()
            if roll < 0.10:
                # A promise to pay or a payment plan needs a conversation first.
                if not conversations:
                    t = local_time(start + below(span - 1))
                    if phones:
                        # The consumer calls in when we may not call them.
                        if contact_allowed(t):
                            kind, initiated = "call", ""
                        else:
                            kind, initiated = "inbound_call", '"initiated_by":"consumer",'
                        add(t, kind, '"type":"contact","channel":"call","outcome":"conversation",%s'
                            '"contact_point":"%s"' % (initiated, phones[0][0]))
                    conversations.append(t)
                agreed = conversations[below(len(conversations))] + 120 + below(600)
                agreed_day = agreed // DAY
                if roll < 0.05:
                    remaining, quiet_until = self.promise(add, agreed, agreed_day, remaining)
                else:
                    remaining, quiet_until = self.plan(add, agreed, agreed_day, remaining)
                # No collection calls or emails while the arrangement is kept.
                events[:] = [e for e in events if not (agreed < e[0] < quiet_until and e[1] in ("call", "email"))]
            elif roll < 0.115 and conversations:
                # Paid in full after a conversation; no more collection contact.
                t = max(conversations) + (1 + below(4)) * DAY
                if t < as_of_t:
                    add(t, "payment_posted", '"type":"payment_posted","amount":%s' % money(remaining))
                    events[:] = [e for e in events if e[0] <= t or e[1] not in ("call", "email")]
                    remaining = 0
            elif roll < 0.16:
                t = local_time(start + below(span), False)
                amount = min(remaining, max(1000, remaining * (5 + below(30)) // 100 // 500 * 500))
                add(t, "payment_posted", '"type":"payment_posted","amount":%s' % money(amount))
                remaining -= amount

        events.sort()
        prefix = '{"account_id":"%s","at":"' % account_id
        counts = self.events_by_type
        lines = []
        for t, kind, body in events:
            counts[kind] = counts.get(kind, 0) + 1
            lines.append('%s%s",%s}' % (prefix, cal.instant(t), body))
        return lines

    def promise(self, add, agreed, agreed_day, remaining):
        """A promise to pay: kept (paid by its due day), broken or still pending.
        Returns what is left owing and when collection may resume (the day after due)."""
        rng = self.rng
        below = self.below
        due = agreed_day + 3 + below(19)
        amount = min(remaining, max(2500, remaining * (10 + below(41)) // 100 // 500 * 500))
        add(agreed, "promise_to_pay", '"type":"promise_to_pay","amount":%s,"due_on":"%s"'
            % (money(amount), self.cal.dates[due]))
        roll = rng.random()
        if due < self.as_of:
            kept = roll < 0.55
        else:
            kept = roll < 0.2
        if kept:
            # Paid between the day after the promise and the due date.
            day = agreed_day + 1 + below(max(1, min(due, self.as_of - 1) - agreed_day))
            t = day * DAY + 14 * 3600 + below(8 * 3600)
            if agreed < t < self.as_of_t:
                add(t, "payment_posted", '"type":"payment_posted","amount":%s' % money(amount))
                remaining -= amount
        return remaining, (due + 1) * DAY

    def plan(self, add, agreed, agreed_day, remaining):
        """A monthly payment plan for what is owed: installments due before --as-of
        mostly paid, some missed, and half the plans with a missed one cancelled.
        Returns what is left owing and when collection may resume (after a miss)."""
        rng = self.rng
        below = self.below
        cal = self.cal
        # Small balances in two or three installments, larger ones in up to twelve.
        count = 2 + below(2) if remaining < 15000 else 3 + below(10)
        first = agreed_day + 5 + below(26)
        day_of_month = min(28, datetime.date.fromordinal(first).day)
        each = remaining // count
        installments = []
        for i in range(count):
            due = cal.add_months(first, i, day_of_month) if i else first
            amount = each if i < count - 1 else remaining - each * (count - 1)
            installments.append((due, amount))
        add(agreed, "payment_plan", '"type":"payment_plan","installments":[%s]' % ",".join(
            '{"due_on":"%s","amount":%s}' % (cal.dates[due], money(amount)) for due, amount in installments))
        for due, amount in installments:
            if due >= self.as_of:
                break
            if rng.random() < 0.85:
                day = max(agreed_day + 1, due - below(4))
                t = day * DAY + 14 * 3600 + below(8 * 3600)
                if t >= self.as_of_t:
                    break
                add(t, "payment_posted", '"type":"payment_posted","amount":%s' % money(amount))
                remaining -= amount
            else:
                # A missed installment: half the time the plan is cancelled.
                if rng.random() < 0.5:
                    t = (due + 5 + below(10)) * DAY + 15 * 3600
                    if t < self.as_of_t:
                        add(t, "payment_plan_cancelled", '"type":"payment_plan_cancelled"')
                return remaining, (due + 1) * DAY
        return remaining, self.as_of_t


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, required=True, help="how many accounts (debts)")
    parser.add_argument("--seed", type=int, default=7, help="the random seed (default 7)")
    parser.add_argument("--as-of", default="2026-11-23",
                        help="the day the portfolio is drawn up: histories end before it (default 2026-11-23)")
    parser.add_argument("--out-accounts", required=True, help="the placement file to write (JSON lines)")
    parser.add_argument("--out-events", help="the history file to write (JSON lines); none when absent")
    args = parser.parse_args(argv)
    if args.accounts < 0:
        parser.error("--accounts must be 0 or more")
    try:
        as_of = datetime.date.fromisoformat(args.as_of)
    except ValueError:
        parser.error("--as-of must be a date like 2026-11-23, not %r" % args.as_of)

    started = time.monotonic()
    generator = Generator(args.seed, as_of)
    rng = generator.rng
    accounts_file = open(args.out_accounts, "w", encoding="utf-8", newline="\n", buffering=1 << 20)
    events_file = None
    if args.out_events:
        events_file = open(args.out_events, "w", encoding="utf-8", newline="\n", buffering=1 << 20)
    account_lines, event_lines = [], []
    events_written = 0
    index = 0
    consumer = None
    debts_left = 0
    with accounts_file:
        while index < args.accounts:
            if debts_left == 0:
                consumer = generator.consumer(generator.consumers + 1)
                debts_left = 1 if rng.random() >= 0.05 else 2 + (rng.random() < 0.35)
            index += 1
            debts_left -= 1
            line, history = generator.account(index, consumer, events_file)
            account_lines.append(line)
            if history:
                event_lines.extend(history)
            if len(account_lines) >= 10000:
                accounts_file.write("\n".join(account_lines) + "\n")
                account_lines.clear()
                if event_lines:
                    events_file.write("\n".join(event_lines) + "\n")
                    events_written += len(event_lines)
                    event_lines.clear()
        if account_lines:
            accounts_file.write("\n".join(account_lines) + "\n")
        if events_file is not None:
            if event_lines:
                events_file.write("\n".join(event_lines) + "\n")
                events_written += len(event_lines)
            events_file.close()

    elapsed = time.monotonic() - started
    states = sorted(generator.by_state.items(), key=lambda item: (-item[1], item[0]))
    shown = ", ".join("%s %d" % item for item in states)
    print("%d accounts of %d consumers; by state: %s (New York City %d)"
          % (args.accounts, generator.consumers, shown, generator.nyc), file=sys.stderr)
    if events_file is not None:
        kinds = sorted(generator.events_by_type.items(), key=lambda item: (-item[1], item[0]))
        print("%d events; by type: %s" % (events_written, ", ".join("%s %d" % item for item in kinds)),
              file=sys.stderr)
    print("written in %.1f s" % elapsed, file=sys.stderr)


if __name__ == "__main__":
    main()
