#!/usr/bin/env python3
"""A $BROWSER for the end-to-end tests: opens the URL in headless Chromium, clicks the
Dropbox authorize page's Allow button and waits until the browser has followed the
redirect to the CLI's loopback listener.

Chromium is driven over the DevTools protocol on a pipe (--remote-debugging-pipe: it
reads commands on fd 3 and writes answers on fd 4, each message ending with a NUL byte),
so only the Python standard library is needed.

Usage: click_allow.py URL   (CLICK_ALLOW_LOG=FILE appends a trace; CHROMIUM=path)
"""

import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

DEADLINE_SECONDS = 120


def high_fd(fd: int) -> int:
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD, 10)
    os.close(fd)
    return moved


def main() -> int:
    url = sys.argv[-1]
    log = open(os.environ.get("CLICK_ALLOW_LOG", os.devnull), "a", buffering=1)

    def trace(msg):
        log.write(f"{time.strftime('%H:%M:%S')} click_allow: {msg}\n")

    signal.signal(signal.SIGALRM, lambda *_: (trace("deadline passed"), os._exit(3)))
    signal.alarm(DEADLINE_SECONDS)

    profile = tempfile.mkdtemp(prefix="click-allow-profile-")
    to_chrome_r, to_chrome_w = os.pipe()
    from_chrome_r, from_chrome_w = os.pipe()
    # Move Chromium's ends above 9 so that the dup2 calls to 3 and 4 below
    # cannot overwrite them.
    to_chrome_r = high_fd(to_chrome_r)
    from_chrome_w = high_fd(from_chrome_w)
    chromium = os.environ.get("CHROMIUM", "chromium")
    args = [
        chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
        "--no-first-run", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--disable-dev-shm-usage", f"--user-data-dir={profile}",
        "--remote-debugging-pipe", "about:blank",
    ]
    def pipes_to_3_and_4():
        os.dup2(to_chrome_r, 3)
        os.dup2(from_chrome_w, 4)

    proc = subprocess.Popen(
        args, preexec_fn=pipes_to_3_and_4, close_fds=False,
        stdin=subprocess.DEVNULL, stdout=log, stderr=log,
    )
    os.close(to_chrome_r)
    os.close(from_chrome_w)
    trace(f"started chromium pid {proc.pid} for {url}")

    buffer = b""
    next_id = 0
    events = []

    def read_message():
        nonlocal buffer
        while b"\0" not in buffer:
            chunk = os.read(from_chrome_r, 65536)
            if not chunk:
                raise RuntimeError("chromium closed the DevTools pipe")
            buffer += chunk
        raw, buffer = buffer.split(b"\0", 1)
        return json.loads(raw)

    def send(method, params=None, session=None):
        nonlocal next_id
        next_id += 1
        message = {"id": next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(to_chrome_w, json.dumps(message).encode() + b"\0")
        while True:
            answer = read_message()
            if answer.get("id") == next_id:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                return answer.get("result", {})
            events.append(answer)

    def evaluate(session, expression):
        result = send("Runtime.evaluate",
                      {"expression": expression, "returnByValue": True}, session)
        return result.get("result", {}).get("value")

    status = 1
    try:
        target = send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = send("Target.attachToTarget",
                       {"targetId": target, "flatten": True})["sessionId"]
        send("Page.enable", session=session)
        send("Page.navigate", {"url": url}, session)
        trace("navigated to the authorize page")
        clicked = False
        while not clicked:
            clicked = evaluate(session, """(() => {
                const b = document.querySelector('button[name="allow"]');
                if (!b || document.readyState === 'loading') return false;
                b.click();
                return true;
            })()""")
            if not clicked:
                time.sleep(0.1)
        trace("clicked Allow")
        origin = url.split("/oauth2/")[0]
        while True:
            href = evaluate(session, "location.href") or ""
            text = evaluate(session, "document.body ? document.body.innerText : ''") or ""
            if not href.startswith(origin) and "close this tab" in text:
                trace(f"redirected to {href.split('?')[0]}: {text.strip()[:200]!r}")
                status = 0
                break
            time.sleep(0.1)
        try:
            send("Browser.close")
        except RuntimeError:
            pass
    except Exception as e:  # noqa: BLE001 - report anything, the test reads the trace
        trace(f"failed: {e!r}")
    finally:
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(profile, ignore_errors=True)
    trace(f"done, status {status}")
    return status


if __name__ == "__main__":
    sys.exit(main())
