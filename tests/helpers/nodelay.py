#!/usr/bin/env python3
"""Reads TCP_NODELAY from the kernel for the established TCP sockets of a process that touch a port.

Usage: nodelay.py PID PORT -> JSON list of {fd, local, remote, side, nodelay}.
side is "server" when the socket's local port is PORT (accepted by a broker), "client" when its
remote port is PORT. The sockets are borrowed with pidfd_getfd(2), so this reads the real option,
not what the program believes it set. Needs Linux >= 5.6 and ptrace rights over PID (root, or own child).
"""
import ctypes, json, os, socket, sys

SYS_PIDFD_OPEN, SYS_PIDFD_GETFD = 434, 438
libc = ctypes.CDLL(None, use_errno=True)


def tcp_table():
    table = {}
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = open(name).read().splitlines()[1:]
        except FileNotFoundError:
            continue
        for line in lines:
            f = line.split()
            if f[3] != "01":  # ESTABLISHED only
                continue
            local_port = int(f[1].split(":")[1], 16)
            remote_port = int(f[2].split(":")[1], 16)
            table[f[9]] = (local_port, remote_port)
    return table


def main():
    pid, port = int(sys.argv[1]), int(sys.argv[2])
    table = tcp_table()
    pidfd = libc.syscall(SYS_PIDFD_OPEN, pid, 0)
    if pidfd < 0:
        sys.exit("pidfd_open failed: errno %d" % ctypes.get_errno())
    out = []
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            target = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
        if not target.startswith("socket:["):
            continue
        ports = table.get(target[8:-1])
        if not ports or port not in ports:
            continue
        mine = libc.syscall(SYS_PIDFD_GETFD, pidfd, int(fd), 0)
        if mine < 0:
            sys.exit("pidfd_getfd failed: errno %d" % ctypes.get_errno())
        s = socket.socket(fileno=mine)
        nodelay = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
        s.close()
        out.append({"fd": int(fd), "local": ports[0], "remote": ports[1],
                    "side": "server" if ports[0] == port else "client", "nodelay": nodelay})
    print(json.dumps(out))


main()
