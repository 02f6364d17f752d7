"""A fast webhook sink for benchmarks: answers 204 to every request, counts them, and
prints the count, the first and last arrival times and the rate when stopped (SIGINT or
SIGTERM). Usage: python3 benches/http/receiver.py PORT"""
import asyncio
import signal
import sys
import time

count = 0
first = last = None


async def handle(reader, writer):
    global count, first, last
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            if length:
                await reader.readexactly(length)
            now = time.monotonic()
            first = first or now
            last = now
            count += 1
            writer.write(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n")
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def main(port):
    server = await asyncio.start_server(handle, "127.0.0.1", port)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    print("ready", flush=True)
    async with server:
        await stop.wait()
    span = (last - first) if count > 1 else 0
    rate = (count - 1) / span if span else 0
    print(f"received {count} in {span:.2f} s: {rate:.0f}/s", flush=True)


asyncio.run(main(int(sys.argv[1])))
