"""tiny-runner boards [show NAME]: the board descriptors this install knows.

The listing shows every descriptor that loads; if any does not, it ends with exit code 10 and
one error line naming the bad file (and how many more there are), so one broken file in a lab's
folder neither hides the good boards nor goes unnoticed.
"""

from __future__ import annotations

from ..boards import load_board, scan_boards
from ..errors import BoardError, UsageError


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
    boards, errors = scan_boards()
    print(f"{'name':<20} {'kind':<8} {'mcu':<22} {'core':<12} {'clock':>9} {'flash':>9} {'RAM':>8}  programmed with")
    for b in boards:
        kind = {"posix": "native", "qemu-mps2-an386": "qemu"}.get(b.firmware_port, "virtual" if b.virtual else "real")
        print(f"{b.name:<20} {kind:<8} {b.data['mcu']:<22} {b.data['core']:<12} {b.clock_hz / 1e6:>5g} MHz "
              f"{_size(b.flash_bytes):>9} {_size(b.data['ram_bytes']):>8}  {_programmed_with(b)}")
    if errors:
        more = f" (and {len(errors) - 1} more bad descriptors)" if len(errors) > 1 else ""
        raise BoardError(f"{errors[0].message}{more}")
    return 0


def _size(n: int) -> str:
    return f"{n // 1024 ** 2} MiB" if n % 1024 ** 2 == 0 else f"{n / 1024:g} KiB"


def _programmed_with(board) -> str:
    if board.firmware_port:
        return "tiny-runner flash (installs the image)"
    if board.virtual:
        return "nothing (emulated reference firmware)"
    prog = board.programming
    pack = f" + {prog['pack']}" if prog.get("needs_pack") else ""
    return f"{prog['probe']}, pyocd {prog['pyocd_target']}{pack}"
