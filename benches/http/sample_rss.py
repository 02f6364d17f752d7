"""Samples a process's resident memory every second until it exits (or Ctrl-C):
one line per sample, `elapsed_s VmRSS_KiB VmHWM_KiB RssAnon_KiB RssFile_KiB`, and the
peaks at the end. Usage: python3 benches/http/sample_rss.py PID [INTERVAL_S] > rss.log
"""
import sys
import time

FIELDS = ("VmRSS", "VmHWM", "RssAnon", "RssFile")


def sample(pid):
    values = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            name, _, rest = line.partition(":")
            if name in FIELDS:
                values[name] = int(rest.split()[0])
    return values


def main():
    pid = int(sys.argv[1])
    interval = float(sys.argv[2]) if len(sys.argv) > 2 else 1.0
    started = time.monotonic()
    peak = dict.fromkeys(FIELDS, 0)
    try:
        while True:
            try:
                values = sample(pid)
            except FileNotFoundError:
                break
            for name in FIELDS:
                peak[name] = max(peak[name], values.get(name, 0))
            print(f"{time.monotonic() - started:7.1f} "
                  + " ".join(str(values.get(name, 0)) for name in FIELDS), flush=True)
            time.sleep(interval)
    except KeyboardInterrupt:
        pass
    print("# peak " + " ".join(f"{name}={peak[name] / 1024:.1f}MiB" for name in FIELDS),
          flush=True)


if __name__ == "__main__":
    main()
