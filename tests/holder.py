"""A real process that holds a TCP port, for the guard's tests (a test double for vLLM).

Run it with any argv[0] (``exec -a``) to give it an identity. Prints "ready <pid>" once
its socket is in place, then sleeps until killed.

    holder.py --port P [--host H] [--no-listen] [--v6only] [--reuseport]
              [--ignore-term] [--children N --child-title T] [--orphan-children]
              [--title T]     (process title + comm, as setproctitle does for VLLM::EngineCore)
              [--child-own-socket H]  (each child binds a socket of its own on H:port)
              [--leader-exits]        (the main thread exits; another thread keeps the socket)
              [--non-dumpable]        (prctl PR_SET_DUMPABLE 0: /proc/<pid>/fd becomes root's)
              [--clear-argv]          (zero the argv area: /proc/<pid>/cmdline reads empty)
              [--argv '["A", "B"]']   (rewrite the argv area to A, B (a JSON list), as programs that set
                                      their title do; "\udcff" stands for the byte 0xff)
"""
import argparse
import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import time


def set_comm(title):
    """What setproctitle does besides argv: the kernel's comm (15 chars)."""
    libc = ctypes.CDLL(None)
    libc.prctl(15, title.encode()[:15], 0, 0, 0)  # PR_SET_NAME


def clear_argv(words):
    """Zero this process's argv area (then write ``words`` NUL-separated into it), as a
    program that wipes or rewrites its arguments does."""
    with open("/proc/self/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    start, end = int(fields[45]), int(fields[46])  # arg_start, arg_end (fields 48 and 49)
    ctypes.memset(start, 0, end - start)
    data = b"".join(word.encode("utf-8", "surrogateescape") + b"\0" for word in words)
    assert len(data) <= end - start, "new argv does not fit"
    ctypes.memmove(start, data, len(data))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--no-listen", action="store_true")
    parser.add_argument("--v6only", type=int, default=None)
    parser.add_argument("--reuseport", action="store_true")
    parser.add_argument("--ignore-term", action="store_true")
    parser.add_argument("--children", type=int, default=0)
    parser.add_argument("--child-title", default="VLLM::EngineCore")
    parser.add_argument("--orphan-children", action="store_true", help="children outlive us: exit after spawning")
    parser.add_argument("--title", default=None)
    parser.add_argument("--child-own-socket", default=None)
    parser.add_argument("--leader-exits", action="store_true")
    parser.add_argument("--non-dumpable", action="store_true")
    parser.add_argument("--clear-argv", action="store_true")
    parser.add_argument("--argv", default=None)
    parser.add_argument("--pad", nargs="*", help="ignored: makes argv as long as a test needs")
    args = parser.parse_args()
    if args.title:
        set_comm(args.title)
    if args.ignore_term:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    sock = None
    if args.port:
        family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        if args.reuseport:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        if args.v6only is not None:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, args.v6only)
        sock.bind((args.host, args.port))
        if not args.no_listen:
            sock.listen()
    children = []
    for _ in range(args.children):
        child_args = [args.child_title, __file__, "--title", args.child_title]
        if args.ignore_term:
            child_args.append("--ignore-term")
        if args.child_own_socket:
            child_args += ["--port", str(args.port), "--host", args.child_own_socket]
        children.append(subprocess.Popen(child_args, executable=os.readlink("/proc/self/exe"), stdout=subprocess.PIPE,
                                         pass_fds=[sock.fileno()] if sock else []))
    child_pids = []
    for child in children:
        child_pids.append(child.stdout.readline().split()[1].decode())
    if args.non_dumpable:
        ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE
    if args.clear_argv or args.argv:
        clear_argv(json.loads(args.argv) if args.argv else [])
    print("ready", os.getpid(), *child_pids, flush=True)
    if args.orphan_children:
        os._exit(0)
    if args.leader_exits:
        import threading

        threading.Thread(target=lambda: time.sleep(1e9)).start()
        libc = ctypes.CDLL(None)
        libc.pthread_exit.argtypes = [ctypes.c_void_p]
        libc.pthread_exit(None)  # ctypes releases the GIL: the other thread runs on
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
