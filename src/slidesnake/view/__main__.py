"""python -m slidesnake.view RESULTS [--port N]: serve the viewer of a results folder on 127.0.0.1."""

from __future__ import annotations

import argparse
import sys

from slidesnake.core.errors import SlidesnakeError
from slidesnake.view.assets import status
from slidesnake.view.server import DEFAULT_PORT, HOST, serve


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m slidesnake.view", description=__doc__)
    parser.add_argument("results", help="a workflow's results folder (results/)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port on {HOST} (0: any free one)")
    parser.add_argument("--cache-mb", type=int, default=256, help="memory for encoded view tiles (MiB)")
    args = parser.parse_args(argv)
    try:
        server = serve(args.results, args.port, args.cache_mb)
    except (SlidesnakeError, FileNotFoundError) as error:
        sys.exit(f"slidesnake.view: {error}")
    if status()["install_help"]:
        print(f"warning: {status()['install_help']}", file=sys.stderr)
    print(f"slidesnake viewer of {server.viewer.results.dir}: http://{HOST}:{server.server_address[1]}/", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
