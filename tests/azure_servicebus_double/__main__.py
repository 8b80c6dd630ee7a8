"""Run the Service Bus double on its own: `python -m tests.azure_servicebus_double [--port 5300]
[--sku Standard|Premium|Basic]`. The connection string is the emulator's well-known one with
this port (printed at start); stops on SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from tests.azure_servicebus_double import ServiceBusDouble


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.azure_servicebus_double")
    parser.add_argument("--port", type=int, default=5300)
    parser.add_argument("--sku", default="Standard", choices=("Basic", "Standard", "Premium"))
    args = parser.parse_args(argv)
    double = ServiceBusDouble(port=args.port, sku=args.sku).start()
    print(f"Service Bus double ({args.sku}) on http://{double.host}", flush=True)
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    done.wait()
    double.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
