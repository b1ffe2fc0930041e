"""The kernel's view of TCP sockets, from ss(8) (Debian's iproute2)."""

import re
import subprocess


def ss(*args):
    """`ss -H -t -n -m` with `args`: a list of (columns, skmem) per socket, where columns are the
    socket's line split on blanks (with -p, the owning processes are among them) and skmem maps
    ss's memory fields to ints (rb: receive buffer, tb: send buffer)."""
    out = subprocess.run(["ss", "-Htnm"] + list(args), capture_output=True, text=True,
                         check=True).stdout
    found, columns = [], None
    for line in out.splitlines():
        m = re.search(r"skmem:\(([^)]*)\)", line)
        if m is None:
            columns = line.split()
            continue
        found.append((columns, {k: int(v) for k, v in re.findall(r"([a-z]+)(\d+)", m.group(1))}))
    return found
