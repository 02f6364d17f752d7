"""Creates the 1,000 accounts L-0 … L-999 that attempts.lua records letters for,
with one bulk request. Usage: python3 benches/http/setup.py http://127.0.0.1:18081 TOKEN"""
import json
import sys
import urllib.request

base, token = sys.argv[1], sys.argv[2]
accounts = [
    {
        "id": f"L-{i}",
        "consumer": {"address": {"state": "NY"}, "time_zones": ["America/New_York"]},
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
