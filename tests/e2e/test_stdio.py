"""`frugal --stdio` as a process: msgpack-RPC framing, errors and exit, over real pipes."""
import os
import select
import subprocess
import time

import msgpack
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FRUGAL = os.environ.get("FRUGAL_HOST", os.path.join(ROOT, "build", "frugal"))
EXAMPLE = os.path.join(ROOT, "examples", "wordfreq.c")

pytestmark = pytest.mark.skipif(not os.access(FRUGAL, os.X_OK),
                                reason="host binary not built: run `make` first")


class Host:
    def __init__(self):
        self.p = subprocess.Popen([FRUGAL, "--stdio"], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.unpacker = msgpack.Unpacker(raw=False)

    def send(self, data):
        self.p.stdin.write(data)
        self.p.stdin.flush()

    def read(self, n=1, timeout=10.0):
        out = []
        deadline = time.monotonic() + timeout
        while len(out) < n:
            for msg in self.unpacker:
                out.append(msg)
            if len(out) >= n:
                break
            left = deadline - time.monotonic()
            assert left > 0, "timed out waiting for the host"
            r, _, _ = select.select([self.p.stdout], [], [], left)
            if r:
                chunk = os.read(self.p.stdout.fileno(), 65536)
                assert chunk, "host closed stdout"
                self.unpacker.feed(chunk)
        return out

    def close(self):
        self.p.stdin.close()
        rc = self.p.wait(timeout=10)
        err = self.p.stderr.read().decode()
        return rc, err


@pytest.fixture
def host():
    h = Host()
    yield h
    if h.p.poll() is None:
        h.p.kill()
        h.p.wait()


def preview_params(line=70):
    with open(EXAMPLE) as f:
        text = f.read()
    return {"path": EXAMPLE, "action": "tests", "line": line, "text": text}


def test_requests_split_at_every_byte_and_batched_are_all_answered(host):
    reqs = b"".join(msgpack.packb([0, i, "version", []]) for i in range(1, 4))
    reqs += msgpack.packb([0, 4, "route", [preview_params()]])
    for b in reqs:  # one byte per write
        host.send(bytes([b]))
    replies = host.read(4)
    assert [r[1] for r in replies] == [1, 2, 3, 4]
    assert all(r[0] == 1 and r[2] is None for r in replies)
    assert replies[0][3]["version"] == "0.1.0"
    assert replies[3][3]["route"]["tier"] == "mini"
    host.send(reqs)  # all at once
    assert [r[1] for r in host.read(4)] == [1, 2, 3, 4]
    rc, _ = host.close()
    assert rc == 0


def test_unknown_method_and_bad_params_get_error_responses(host):
    host.send(msgpack.packb([0, 7, "summon", []]))
    host.send(msgpack.packb([0, 8, "preview", [{"action": "tests", "line": "x", "text": ""}]]))
    host.send(msgpack.packb([0, 9, "preview", [{"action": "tests", "line": 3}]]))
    r7, r8, r9 = host.read(3)
    assert r7[1] == 7 and "unknown method: summon" in str(r7[2])
    assert r8[1] == 8 and "'line' must be an integer" in str(r8[2])
    assert r9[1] == 9 and "'bufnr', 'lines' or 'text'" in str(r9[2])
    # the host is still serving
    host.send(msgpack.packb([0, 10, "version", []]))
    assert host.read(1)[0][1] == 10


def test_invalid_utf8_in_the_source_is_replaced_not_fatal(host):
    with open(EXAMPLE, "rb") as f:
        raw = f.read().replace(b"lower-cased", b"lower-\xff\xfecased")
    packed = msgpack.packb([0, 11, "context", [{"path": EXAMPLE, "action": "explain",
                                                 "line": 62, "text": raw}]],
                           use_bin_type=False)
    host.send(packed)
    reply = host.read(1)[0]
    assert reply[2] is None
    scope = reply[3]["context"]["items"][0]["text"]
    assert "lower-\ufffd\ufffdcased" in scope


def test_stdin_closing_exits_cleanly(host):
    host.send(msgpack.packb([0, 1, "version", []]))
    host.read(1)
    rc, err = host.close()
    assert rc == 0
    assert err == ""


def test_garbage_is_reported_on_stderr_and_the_host_exits(host):
    host.send(b"\xc1\xc1\xc1")  # 0xc1 is never valid msgpack
    rc = host.p.wait(timeout=10)
    err = host.p.stderr.read().decode()
    assert "frugal: rpc:" in err
    assert rc == 1


def test_oversized_message_is_refused_before_it_is_buffered(host):
    # a str header announcing 1 GiB: refused from the header alone
    host.send(b"\x94\x00\x01\xa7version\x91\xdb\x40\x00\x00\x00")
    rc = host.p.wait(timeout=10)
    err = host.p.stderr.read().decode()
    assert "larger than" in err
    assert rc == 1
