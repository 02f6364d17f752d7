"""Creates the 1,000 accounts L-0 … L-999 that attempts.lua records letters for,
with one bulk request, in New York or the STATE given. attempts.sh gives PA: a New York
account without a postal code meets New York City's cap of 2 communications in 7 days,
letters included, which would refuse nearly every attempt of that bench.
Usage: python3 benches/http/setup.py http://127.0.0.1:18081 TOKEN [STATE]"""
import json
import sys
import urllib.request

base, token = sys.argv[1], sys.argv[2]
state = sys.argv[3] if len(sys.argv) > 3 else "NY"
accounts = [
    {
        "id": f"L-{i}",
        "consumer": {"address": {"state": state}, "time_zones": ["America/New_York"]},
        "balance": {"amount": "100.00", "currency": "USD"},
    }
    for i in range(1000)
]
request = urllib.request.Request(
    f"{base}/v1/accounts/bulk",
    data=json.dumps({"accounts": accounts}).encode(),
    headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    method="POST",
)
with urllib.request.urlopen(request) as response:
    print(response.read().decode())
