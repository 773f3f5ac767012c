"""The browser viewer in real headless browsers, each test in both: Debian's Chromium (chromium-driver and
Selenium, chromium.py) and Debian's Firefox ESR (its own WebDriver BiDi, firefox.py). The list, a job page
whose text equals the archived bytes as `watch` shows them, a live job followed across a server restart with
no gap and no duplicate, the wheel, Page Up and a finger stopping the follow, a big log read by range, a page of another
origin that cannot read a job, and both pages at a phone's width. One browser of each kind serves the whole
module; a page that logs an error fails its test. Screenshots go to each test's temporary folder."""
import http.server
import os
import re
import threading
import time
import urllib.request

import pytest

import chromium
import firefox
from conftest import Server, free_port, paced_job, paced_lines, popen, py, tailcast, wait_until

PUBLISH = "publish-1f3e5d7c9b0a2468"
WATCH = "watch-9e7c5a3b1d0f8642"

ESCAPES = re.compile(rb"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[@-Z\\-_])")

# Colours, a line redrawn with \r, stderr, a character cut across two writes and bytes that are not UTF-8.
COLOURED = r"""
import sys, time
o, e = sys.stdout.buffer, sys.stderr.buffer
for i in range(30):
    o.write(b"\x1b[1;32mline %03d\x1b[0m \x1b[38;5;208morange\x1b[0m ok\n" % i)
    if i % 10 == 0:
        o.flush(); e.write(b"warning %d\n" % i); e.flush(); time.sleep(0.03)
o.write(b"train 0%\rtrain 50%\rtrain 100%\n"); o.flush(); time.sleep(0.05)
o.write("caf\u00e9 ".encode()[:-2]); o.flush(); time.sleep(0.05)
o.write("caf\u00e9 ".encode()[-2:] + b"\xff raw\r\n"); o.flush()
"""


def shown_lines(data: bytes):
    """The lines of a stream as the page (and `watch` on a pipe) shows them: colours dropped from the text,
    a line with carriage returns overwritten from its start."""
    lines = []
    for body in data.split(b"\n")[:-1]:
        if body.endswith(b"\r"):
            body = body[:-1]
        if b"\r" in body:
            text = ""
            for part in ESCAPES.sub(b"", body).decode("utf-8", "replace").split("\r"):
                text = part + text[len(part):]
            lines.append(text.rstrip(" "))
        else:
            lines.append(ESCAPES.sub(b"", body).decode("utf-8", "replace"))
    return lines


BROWSERS = {
    "chromium": (chromium.installed, chromium.Chromium, "Debian's chromium and chromium-driver, and Selenium"),
    "firefox": (firefox.installed, firefox.Firefox, "Debian's firefox-esr"),
}


@pytest.fixture(scope="module", params=sorted(BROWSERS))
def browser(request):
    installed, kind, needs = BROWSERS[request.param]
    if not installed():
        pytest.skip(f"needs {needs} (Packaging/install-deps --test)")
    started = time.monotonic()
    driver = kind(1280, 1600)
    # What a browser adds to CI's time (pytest -s shows it).
    print(f"{request.param} started in {time.monotonic() - started:.1f}s")
    yield driver
    driver.quit()


@pytest.fixture(autouse=True)
def clean_console(browser):
    """Each test starts on a blank page and sees only the errors its own pages log (the page of the test before
    would go on reconnecting to its stopped server)."""
    browser.open("about:blank")
    browser.console_errors()


def wait(browser, body, *args, timeout=10, what="condition"):
    """Waits until a script (a function body, as for browser.js) returns something true, and returns it."""
    return wait_until(lambda: browser.js(body, *args), timeout=timeout, what=what)


def texts(browser, selector):
    return browser.js("return Array.from(document.querySelectorAll(arguments[0])).map(function (e) { return e.textContent; });",
                      selector)


def text_of(browser, selector):
    return browser.js("const e = document.querySelector(arguments[0]); return e && e.textContent;", selector)


def click(browser, selector):
    browser.js("document.querySelector(arguments[0]).click();", selector)


def type_text(browser, selector, value):
    """Types into an input as a user does, as far as the page can tell: its value, then an input event."""
    browser.js("const e = document.querySelector(arguments[0]); e.focus(); e.value = arguments[1];"
               "e.dispatchEvent(new Event('input', {bubbles: true}));", selector, value)


def run_job(server, env, job, code):
    done = tailcast("run", "--job", job, "--no-pty", "--quiet", "--server", server.url, "--", *py(code), env=env, timeout=60)
    assert done.returncode == 0, done.stderr


def rows_of(browser, stream):
    """The rendered text of each line of one stream, as the DOM shows it."""
    return browser.js(
        "const name = arguments[0];"
        "return Array.from(document.querySelectorAll('#rows .line')).filter(function (row) { return row.title === name; })"
        ".map(function (row) { return row.querySelector('.tx').textContent; });", stream)


def test_list_page_shows_jobs_newest_first_and_filters(server, env, browser, tmp_path):
    run_job(server, env, "older-job", "print('one')")
    run_job(server, env, "newer-job", "print('two')")
    browser.open(server.http + "/")
    wait(browser, "return document.querySelectorAll('#jobs tbody tr').length == 2", what="two rows")
    assert texts(browser, "#jobs tbody tr a") == ["newer-job", "older-job"]
    type_text(browser, "#filter", "older")
    wait_until(lambda: texts(browser, "#jobs tbody tr a") == ["older-job"], timeout=5, what="the filter")
    browser.screenshot(tmp_path / "list.png")
    assert browser.console_errors() == []
    # The pages run under a strict Content-Security-Policy.
    with urllib.request.urlopen(server.http + "/") as page:
        assert "script-src 'self'" in page.headers["Content-Security-Policy"]


def test_job_page_shows_the_archived_bytes_with_colours_redraws_and_stderr(server, env, browser, tmp_path):
    run_job(server, env, "coloured", COLOURED)
    browser.open(server.http + "/jobs/coloured")
    wait_until(lambda: "exit 0" in text_of(browser, "#end"), timeout=10, what="the exit status")
    for stream in ("stdout", "stderr"):
        expected = shown_lines(server.archived("coloured", stream))
        # Drawn at the next animation frame.
        wait_until(lambda: rows_of(browser, stream) == expected, timeout=5, what=f"{stream} drawn")
    assert texts(browser, "#rows .ansi-green-fg.ansi-bold")
    # 256 colours through the CSSOM (the policy refuses style attributes), as the browser computes them.
    assert browser.js("return getComputedStyle(document.querySelector('#rows [data-fg]')).color") == "rgb(255, 135, 0)"
    # The redrawn percentage is a real bar, from the job's progress data.
    assert browser.js("const bar = document.querySelector('#bars progress'); return [bar.value, bar.max];") == [100, 100]
    browser.screenshot(tmp_path / "job.png")
    # A link to a line lands on it.
    browser.open(server.http + "/jobs/coloured#L5")
    wait(browser, "return document.querySelector('#rows .line.target')", what="the linked line")
    assert text_of(browser, "#rows .line.target .ln") == "5"
    assert browser.console_errors() == []


def test_each_file_of_a_tail_job_is_its_own_filterable_stream(server, tmp_path, browser):
    logs = [tmp_path / "app.log", tmp_path / "db.log"]
    agent = popen("tail", "--job", "files", "--server", server.url, "--state-dir", str(tmp_path / "state"), *map(str, logs))
    try:
        wait_until(lambda: "files" in server.jobs(), what="the tail job")
        for log, text in zip(logs, (b"app started\napp ready\n", b"db started\n")):
            with open(log, "ab") as f:
                f.write(text)
        browser.open(server.http + "/jobs/files")
        wait_until(lambda: rows_of(browser, str(logs[0])) == ["app started", "app ready"] and rows_of(browser, str(logs[1])) == ["db started"],
                   timeout=10, what="both files")
        # Hiding one file leaves the other's lines.
        browser.js("const name = arguments[0]; Array.from(document.querySelectorAll('.stream-toggle')).find(function (label) {"
                   "  return label.textContent.trim() === name; }).querySelector('input').click();", str(logs[0]))
        wait_until(lambda: rows_of(browser, str(logs[0])) == [] and rows_of(browser, str(logs[1])) == ["db started"], timeout=5,
                   what="the filter")
        assert browser.console_errors() == []
    finally:
        agent.kill()
        agent.wait()


def test_a_live_job_is_followed_across_a_server_restart_with_no_gap_and_no_duplicate(tmp_path, env, browser):
    server = Server(tmp_path / "data", free_port()).start()
    job = popen("run", "--job", "live", "--no-pty", "--quiet", "--server", server.url, "--",
                *py(paced_job(1500, 0.004, 0, every=5)), env=env)
    try:
        wait_until(lambda: "live" in server.jobs(), what="the job")
        browser.open(server.http + "/jobs/live")
        wait(browser, "return window.tailcastText().split('\\n').length > 100", what="live lines")
        server.kill9()
        wait_until(lambda: "reconnecting" in text_of(browser, "#connection"), timeout=10, what="the page to notice")
        server.start()
        wait_until(lambda: "exit 0" in text_of(browser, "#end"), timeout=30, what="the end")
        assert job.wait(30) == 0
        expected = paced_lines(1500).decode().rstrip("\n")
        assert browser.js("return window.tailcastText()") == expected
        # Following: the last lines are the ones drawn.
        assert rows_of(browser, "stdout")[-1] == expected.rsplit("\n", 1)[1]
        browser.screenshot(tmp_path / "live.png")
    finally:
        job.kill()
        server.stop()


PAGE_UP = "\ue00e"  # WebDriver's key code
STOPPED = "return !document.getElementById('follow').classList.contains('on')"


def test_scrolling_up_with_the_wheel_a_key_or_a_finger_stops_following_a_live_job(server, env, browser):
    job = popen("run", "--job", "scrolled", "--no-pty", "--quiet", "--server", server.url, "--",
                *py(paced_job(4000, 0.01, 0, every=4)), env=env)
    try:
        wait_until(lambda: "scrolled" in server.jobs(), what="the job")
        browser.open(server.http + "/jobs/scrolled")
        wait(browser, "return window.tailcastText().split('\\n').length > 200", what="live lines")
        box = browser.js("const box = document.getElementById('log').getBoundingClientRect(); return [box.left, box.top, box.width, box.height];")
        browser.wheel(int(box[0] + box[2] / 2), int(box[1] + box[3] / 2), -600)
        wait(browser, STOPPED, timeout=5, what="the wheel to stop following")
        # Lines keep coming, and the log stays where the reader put it.
        lines = browser.js("return window.tailcastText().split('\\n').length")
        wait(browser, "return window.tailcastText().split('\\n').length > arguments[0] + 100", lines, what="more lines")
        assert browser.js("const log = document.getElementById('log'); return log.scrollHeight - log.clientHeight - log.scrollTop") > 300
        click(browser, "#follow")
        wait(browser, "const log = document.getElementById('log'); return log.scrollHeight - log.clientHeight - log.scrollTop < 40",
             what="the end again")
        # Page Up in the log does the same, and so does a finger pulling the log down on a touch screen.
        browser.js("document.getElementById('log').focus();")
        browser.key(PAGE_UP)
        wait(browser, STOPPED, timeout=5, what="Page Up to stop following")
        click(browser, "#follow")
        # Firefox sends this swipe as a touchstart and then pointer events only: the page hears both (it once
        # relied on the pan outrunning the follow, and on a loaded machine it did not, twice in a row).
        browser.swipe(int(box[0] + box[2] / 2), int(box[1] + box[3] / 3), int(box[1] + box[3] * 2 / 3))
        wait(browser, STOPPED, timeout=5, what="the finger to stop following")
        assert browser.console_errors() == []
    finally:
        job.kill()
        job.wait()


# Numbered lines with colours, about 5.4 MB: over the 4 MiB past which the page opens a log at its end.
BIG = r"""
import sys
w = sys.stdout.buffer.write
for i in range(80000):
    w(b"%06d \x1b[32mgreen\x1b[0m " % i + b"x" * (i % 90) + b"\n")
"""


def window_of(browser):
    return browser.js("return window.tailcastWindow()")


def settled(browser):
    """The window once nothing is being fetched."""
    wait_until(lambda: (w := window_of(browser)) and not w["loading"], timeout=10, what="the window")
    return window_of(browser)


def jump(browser, permille):
    """Moves the position slider as a reader does, and waits for the window read there."""
    browser.js("const p = document.getElementById('position'); p.value = arguments[0];"
                           "p.dispatchEvent(new Event('change'));", permille)
    return settled(browser)


def first_row(browser):
    """(line number shown, text) of the first row drawn."""
    return browser.js("const row = document.querySelector('#rows .line');"
                                  "return [row.querySelector('.ln').textContent, row.querySelector('.tx').textContent];")


def assert_window_is_the_archive(browser, data, window):
    """The window holds whole lines of the archive, at most 4 MiB of them, and the page shows exactly those."""
    start, end = window["start"], window["end"]
    assert start == 0 or data[start - 1:start] == b"\n"
    assert data[end - 1:end] == b"\n" and 0 < end - start <= 4 << 20
    expected = shown_lines(data[start:end])
    assert browser.js("return window.tailcastText()") == "\n".join(expected)

    def drawn_from_the_window():
        drawn = rows_of(browser, "stdout")
        return drawn and drawn[0] in expected and expected[expected.index(drawn[0]):][:len(drawn)] == drawn
    wait_until(drawn_from_the_window, timeout=5, what="rows drawn from the window")


def test_a_big_log_is_read_at_any_point_by_range_never_whole(server, env, browser, tmp_path):
    run_job(server, env, "big", BIG)
    data = server.archived("big")
    lines = shown_lines(data)
    browser.open(server.http + "/jobs/big")
    wait_until(lambda: rows_of(browser, "stdout")[-1:] == lines[-1:], timeout=10, what="the end")
    # Opened at its end: the last lines, not the whole log.
    assert len(browser.js("return window.tailcastText()")) < len(data) / 4

    window = jump(browser, 0)
    assert window["start"] == 0
    assert_window_is_the_archive(browser, data, window)
    assert first_row(browser) == ["1", lines[0]]
    # Scrolled down, the window reads on by range and lets its first bytes go past 4 MiB; numbers stay right.
    while window["start"] == 0:
        end = window["end"]
        browser.js("const log = document.getElementById('log'); log.scrollTop = log.scrollHeight;")
        wait_until(lambda: (w := window_of(browser)) and not w["loading"] and w["end"] > end, timeout=10, what="the window moving on")
        window = settled(browser)
    assert_window_is_the_archive(browser, data, window)
    number, text = first_row(browser)
    assert int(number) == int(text[:6]) + 1

    window = jump(browser, 500)
    # From the first line that starts at or after the middle byte.
    offset = len(data) // 2
    assert window["start"] == (offset if data[offset - 1:offset] == b"\n" else data.index(b"\n", offset) + 1)
    assert_window_is_the_archive(browser, data, window)
    # Line numbers are not known there, so none is shown.
    assert first_row(browser) == ["", shown_lines(data[window["start"]:])[0]]
    browser.screenshot(tmp_path / "middle.png")
    # Scrolled up from there, it reads the bytes before by range.
    middle = window
    browser.js("const log = document.getElementById('log'); log.scrollTop = 300;"
                           "log.dispatchEvent(new Event('scroll')); log.scrollTop = 0;")
    wait_until(lambda: (w := window_of(browser)) and not w["loading"] and w["start"] < middle["start"], timeout=10,
               what="the window reading back")
    window = settled(browser)
    assert window["end"] == middle["end"]
    assert_window_is_the_archive(browser, data, window)

    # Follow returns to the live end.
    click(browser, "#follow")
    wait_until(lambda: window_of(browser) is None and rows_of(browser, "stdout")[-1:] == lines[-1:], timeout=10,
               what="the end again")

    # A link to a line of a big log opens it at its start, by range.
    browser.open("about:blank")
    browser.open(server.http + "/jobs/big#L3")
    wait(browser, "return document.querySelector('#rows .line.target')", what="the linked line")
    assert text_of(browser, "#rows .line.target .tx") == lines[2]
    assert settled(browser)["start"] == 0
    assert browser.console_errors() == []


def test_a_link_to_a_line_deep_in_a_big_log_opens_there(server, env, browser):
    run_job(server, env, "deep", BIG)
    data = server.archived("deep")
    lines = shown_lines(data)
    number = 70_000
    # The window begins 100 lines before the linked one.
    offset = sum(len(line) + 1 for line in data.split(b"\n")[:number - 101])
    assert offset > 4 << 20
    browser.open("about:blank")
    browser.open(server.http + f"/jobs/deep#L{number}")
    wait(browser, "return document.querySelector('#rows .line.target')", what="the linked line")
    assert text_of(browser, "#rows .line.target .tx") == lines[number - 1]
    assert text_of(browser, "#rows .line.target .ln") == str(number)
    # Read from that line by range, not from the start.
    window = settled(browser)
    assert window["start"] == offset
    assert_window_is_the_archive(browser, data, window)
    # Scrolled up from there, the lines before keep their numbers.
    browser.js("const log = document.getElementById('log'); log.scrollTop = 300;"
               "log.dispatchEvent(new Event('scroll')); log.scrollTop = 0;")
    wait_until(lambda: (w := window_of(browser)) and not w["loading"] and w["start"] < offset, timeout=10, what="the window reading back")
    wait_until(lambda: (row := first_row(browser)) and int(row[0]) == int(row[1][:6]) + 1, timeout=5, what="numbers kept")


class Foreign(http.server.SimpleHTTPRequestHandler):
    """Another origin's page that tries to read a job through the visitor's browser."""

    target = ""

    def do_GET(self):
        page = f"""<!doctype html><title>foreign</title><pre id=out></pre><script>
const out = [];
function done(what, how) {{ out.push(what + ':' + how); document.getElementById('out').textContent = out.join('\\n'); }}
fetch('{self.target}/v1/jobs/secret/raw', {{credentials: 'include'}}).then(r => r.text()).then(t => done('fetch', t), e => done('fetch', 'refused'));
fetch('{self.target}/v1/jobs/secret/raw', {{credentials: 'include', mode: 'no-cors'}}).then(r => done('no-cors', r.type + ' ' + r.status), e => done('no-cors', 'refused'));
const ws = new WebSocket('{self.target.replace('http', 'ws')}/v1/watch', ['tailcast.v1']);
ws.onopen = () => ws.send(JSON.stringify({{type: 'watch', job: 'secret', follow: false}}));
ws.onmessage = m => done('ws', typeof m.data === 'string' ? m.data : 'bytes');
ws.onerror = () => done('ws', 'refused');
const es = new EventSource('{self.target}/v1/jobs/secret/events', {{withCredentials: true}});
es.addEventListener('output', m => done('sse', m.data));
es.onerror = () => {{ es.close(); done('sse', 'refused'); }};
</script>"""
        body = page.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_a_page_of_another_origin_cannot_read_a_job_even_with_the_cookie(tmp_path, env, browser):
    tokens = tmp_path / "tokens"
    tokens.write_text(f"publish {PUBLISH}\nwatch {WATCH}\n")
    os.chmod(tokens, 0o600)
    server = Server(tmp_path / "data", free_port(), ["--tokens-file", str(tokens)]).start()
    foreign = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Foreign)
    Foreign.target = server.http
    threading.Thread(target=foreign.serve_forever, daemon=True).start()
    try:
        run_job(server, {**env, "TAILCAST_TOKEN": PUBLISH}, "secret", "print('secret line')")
        # The token is asked for once, then kept in the cookie: the job shows.
        browser.open(server.http + "/jobs/secret")
        wait(browser, "return document.getElementById('login')", what="the token form")
        type_text(browser, "#token", WATCH)
        browser.js("document.getElementById('login').requestSubmit();")
        wait_until(lambda: rows_of(browser, "stdout") == ["secret line"], timeout=10, what="the job with the cookie")
        assert not browser.js("return document.cookie"), "the cookie is HttpOnly"
        # The same browser, with that cookie, on another origin (same site: 127.0.0.1, another port).
        browser.open(f"http://127.0.0.1:{foreign.server_address[1]}/")
        wait_until(lambda: text_of(browser, "#out").count("\n") == 3, timeout=10, what="the foreign page's attempts")
        results = dict(line.split(":", 1) for line in text_of(browser, "#out").split("\n"))
        browser.screenshot(tmp_path / "foreign.png")
        assert results == {"fetch": "refused", "no-cors": "opaque 0", "ws": "refused", "sse": "refused"}
        assert WATCH not in server.log.read_text()
    finally:
        foreign.shutdown()
        server.stop()


# A line far wider than a phone, stderr, and a bar from a redrawn percentage.
WIDE = r"""
import sys, time
o = sys.stdout.buffer
o.write(b"wide " + b"w" * 400 + b" end\n"); o.flush()
sys.stderr.buffer.write(b"a warning\n"); sys.stderr.flush(); time.sleep(0.05)
o.write(b"fetch 10%\rfetch 60%\r"); o.flush(); time.sleep(0.05)
o.write(b"fetch 60%\rfetch 100%\n"); o.flush()
"""

# For each selector, what keeps its first element from being seen and used on the first screen, with nothing
# scrolled: out of the viewport, or under something else at its centre (clipped by a box scrolled across, say).
UNREACHABLE = """
return arguments[0].map(function (selector) {
  const element = document.querySelector(selector);
  if (!element) return selector + ': missing';
  // An inline element wrapped over lines: its first line's box, which holds text at its centre.
  const box = element.getClientRects()[0] || element.getBoundingClientRect();
  if (box.width === 0 || box.height === 0) return selector + ': not shown';
  if (box.left < 0 || box.right > innerWidth || box.top < 0 || box.bottom > innerHeight)
    return selector + ': at ' + [box.left, box.top, box.right, box.bottom].map(Math.round) + ' of ' + [innerWidth, innerHeight];
  const seen = document.elementFromPoint(box.left + box.width / 2, box.top + box.height / 2);
  return seen && (element === seen || element.contains(seen)) ? '' : selector + ': covered';
}).filter(Boolean);
"""

PAGE_SCROLLS_ACROSS = "return document.documentElement.scrollWidth > innerWidth && [document.documentElement.scrollWidth, innerWidth]"


def test_at_a_phones_width_both_pages_fit_and_only_the_log_scrolls_across(server, env, browser, tmp_path):
    job = "nightly-training-run-with-a-long-name-2026-12-03"
    run_job(server, env, job, WIDE)
    browser.viewport(390, 844)
    try:
        browser.open(server.http + "/")
        wait(browser, "return document.querySelector('#jobs tbody tr progress')", what="the job with its bar")
        assert browser.js("return innerWidth") == 390
        assert not browser.js(PAGE_SCROLLS_ACROSS)
        # A job's id, state and progress are on screen, not past its right edge.
        assert browser.js(UNREACHABLE, ["#jobs tbody tr a", "#jobs tbody tr .state", "#jobs tbody tr progress"]) == []
        browser.screenshot(tmp_path / "list-phone.png")

        browser.open(server.http + "/jobs/" + job)
        wait_until(lambda: "exit 0" in text_of(browser, "#end"), timeout=10, what="the exit status")
        wait_until(lambda: rows_of(browser, "stdout")[:1] == ["wide " + "w" * 400 + " end"], timeout=5, what="the wide line")
        assert not browser.js(PAGE_SCROLLS_ACROSS)
        controls = ["#follow", ".stream-toggle input", "#search", "#search-next", "#downloads a", "#bars progress", "#log"]
        assert browser.js(UNREACHABLE, controls) == []
        # The wide line scrolls inside the log pane, which stays within the page.
        assert browser.js("const log = document.getElementById('log'); return log.scrollWidth > log.clientWidth;")
        browser.screenshot(tmp_path / "job-phone.png")
        assert browser.console_errors() == []
    finally:
        browser.viewport()
