#!/usr/bin/env python3
"""tftp_probe.py — send hand-made TFTP packets and print what comes back.

Used by tftp.sh for what no ordinary client sends: write requests,
unknown opcodes, truncated and oversized packets, bad option lists,
duplicate requests, and the Raspberry Pi bootloader's "abort after
block 1".  Prints one line per case; the shell compares them.

  tftp_probe.py HOST PORT CASE
"""
import socket
import struct
import sys
import time


def req(opcode, name, mode=b"octet", opts=b""):
    return struct.pack(">H", opcode) + name + b"\0" + mode + b"\0" + opts


def reply(sock, timeout=1.0):
    sock.settimeout(timeout)
    try:
        data, addr = sock.recvfrom(70000)
    except socket.timeout:
        return None, None
    return data, addr


def describe(data):
    if data is None:
        return "no reply"
    op = struct.unpack(">H", data[:2])[0]
    if op == 5:
        code = struct.unpack(">H", data[2:4])[0]
        return "error %d" % code
    if op == 3:
        return "data %d" % struct.unpack(">H", data[2:4])[0]
    if op == 6:
        return "oack " + data[2:].replace(b"\0", b" ").decode().strip()
    return "opcode %d" % op


def main():
    host, port, case = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("", 0))
    dest = (host, port)
    packets = {
        "wrq": req(2, b"upload.bin"),
        "opcode9": b"\x00\x09hello\x00",
        "truncated": b"\x00",
        "no-nul": b"\x00\x01bootcode.bin",
        "traversal": req(1, b"../etc/passwd"),
        "deep-traversal": req(1, b"a/../../etc/passwd"),
        "absolute": req(1, b"/etc/passwd"),
        "symlink-out": req(1, b"escape"),
        "control": req(1, b"small\x01.bin"),
        "unpaired-option": req(1, b"small.bin", opts=b"blksize\0"),
        "oversized": req(1, b"small.bin", opts=b"x" * 600 + b"\0" + b"1\0"),
        "bad-mode": req(1, b"small.bin", mode=b"mail"),
        "missing": req(1, b"bootsig.bin"),
        "ack-on-69": b"\x00\x04\x00\x01",
    }
    if case in packets:
        s.sendto(packets[case], dest)
        data, _ = reply(s)
        print(describe(data))
        return
    if case == "options":
        s.sendto(req(1, b"small.bin", opts=b"blksize\x0099999\0tsize\x000\0windowsize\x004\0timeout\x002\0bogus\x001\0"), dest)
        data, _ = reply(s)
        print(describe(data))
        return
    if case == "duplicate-rrq":
        # The same request twice from one port: one transfer answers.
        s.sendto(req(1, b"medium.bin"), dest)
        s.sendto(req(1, b"medium.bin"), dest)
        tids = set()
        end = time.time() + 1.0
        while time.time() < end:
            data, addr = reply(s, 0.2)
            if data is None:
                continue
            tids.add(addr[1])
        # Stop the transfer politely.
        for tid in tids:
            s.sendto(b"\x00\x05\x00\x00done\x00", (host, tid))
        print("transfers %d" % len(tids))
        return
    if case == "pi-abort":
        # The Pi bootloader reads block 1, then aborts with an error.
        s.sendto(req(1, b"medium.bin", opts=b"blksize\x001024\0"), dest)
        data, addr = reply(s)
        first = describe(data)
        s.sendto(b"\x00\x04\x00\x00", addr)  # ACK the OACK
        data, addr = reply(s)
        second = describe(data)
        s.sendto(b"\x00\x05\x00\x00abort\x00", addr)
        data, _ = reply(s, 0.5)
        print("%s, %s, then %s" % (first, second, describe(data)))
        return
    if case == "dup-acks":
        # Sorcerer's apprentice: duplicate ACKs must not double the sends.
        s.sendto(req(1, b"medium.bin"), dest)
        data, addr = reply(s)
        for _ in range(20):
            s.sendto(b"\x00\x04\x00\x01", addr)
        blocks = []
        end = time.time() + 0.3
        while time.time() < end:
            data, _ = reply(s, 0.05)
            if data is not None:
                blocks.append(describe(data))
        s.sendto(b"\x00\x05\x00\x00done\x00", addr)
        # 20 duplicate ACKs: with the bug, 20+ copies of block 2; without
        # it only the retransmission timer resends (at most 7 times).
        print("block 2 copies: %d" % blocks.count("data 2"))
        return
    print("unknown case " + case)
    sys.exit(2)


if __name__ == "__main__":
    main()
