"""tiny-runner boards [show NAME]: the board descriptors this install knows."""

from __future__ import annotations

from ..boards import all_boards, load_board
from ..errors import UsageError


def add_parser(sub) -> None:
    p = sub.add_parser("boards", help="list board descriptors, or show one",
                       description="List the board descriptors (packaged ones and those in $TINY_RUNNER_BOARDS).")
    p.add_argument("action", nargs="?", choices=("list", "show"), default="list")
    p.add_argument("name", nargs="?", help="board to show")
    p.set_defaults(handler=run)


def run(args) -> int:
    if args.action == "show":
        if not args.name:
            raise UsageError("boards show needs a board NAME")
        board = load_board(args.name)
        print(f"# {board.path}")
        print(board.path.read_text(encoding="utf-8"), end="")
        return 0
    boards = all_boards()
    print(f"{'name':<20} {'kind':<8} {'mcu':<18} {'core':<12} {'clock':>9}  description")
    for b in boards:
        kind = {"posix": "native", "qemu-mps2-an386": "qemu"}.get(b.firmware_port, "virtual" if b.virtual else "real")
        print(f"{b.name:<20} {kind:<8} {b.data['mcu']:<18} {b.data['core']:<12} {b.clock_hz / 1e6:>6g} MHz  "
              f"{b.data.get('description', '')}")
    return 0
