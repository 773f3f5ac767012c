"""Debian's Firefox ESR, headless, driven over WebDriver BiDi, which Firefox speaks itself: Debian has no
geckodriver and nothing can be downloaded at run time, so the tests talk to the browser's own WebSocket with
Python's `websockets`. The same methods as chromium.Chromium: open, js, viewport, wheel, swipe,
key, screenshot, console_errors, quit."""
import base64
import json
import os
import shutil
import subprocess
import tempfile
import time

from websockets.sync.client import connect

FIREFOX = "/usr/bin/firefox-esr"

# A fresh profile that opens nothing by itself and asks nothing of the network at start; Firefox adds the
# prefs recommended for automation (remote.prefs.recommended) on top.
PREFS = {
    "browser.startup.page": 0,
    "browser.startup.homepage": "about:blank",
    "startup.homepage_welcome_url": "about:blank",
    "browser.newtabpage.enabled": False,
    "browser.aboutwelcome.enabled": False,
    "browser.shell.checkDefaultBrowser": False,
    "datareporting.policy.dataSubmissionEnabled": False,
    "toolkit.telemetry.reportingpolicy.firstRun": False,
    "app.update.disabledForTesting": True,
}


# Firefox tells WebDriver BiDi nothing of what a page's Content-Security-Policy refuses (Chromium logs it as an
# error): each document reports it itself, before its own scripts run.
REPORT_REFUSALS = """() => document.addEventListener('securitypolicyviolation', function (event) {
  console.error('Content-Security-Policy refused ' + (event.blockedURI || 'inline') + ': ' + event.violatedDirective);
})"""


def installed():
    return os.path.exists(FIREFOX)


class BiDiError(Exception):
    pass


def local_value(value):
    """A Python value as a BiDi LocalValue (an argument of script.callFunction)."""
    if value is None:
        return {"type": "null"}
    if isinstance(value, bool):
        return {"type": "boolean", "value": value}
    if isinstance(value, (int, float)):
        return {"type": "number", "value": value}
    if isinstance(value, str):
        return {"type": "string", "value": value}
    if isinstance(value, (list, tuple)):
        return {"type": "array", "value": [local_value(v) for v in value]}
    if isinstance(value, dict):
        return {"type": "object", "value": [[str(k), local_value(v)] for k, v in value.items()]}
    raise TypeError(f"no BiDi value for {value!r}")


def python_value(remote):
    """A BiDi RemoteValue as Python, as Selenium returns a script's value: objects as dicts, arrays as lists."""
    kind, value = remote["type"], remote.get("value")
    if kind in ("undefined", "null"):
        return None
    if kind == "number" and isinstance(value, str):
        return {"NaN": float("nan"), "-0": -0.0, "Infinity": float("inf"), "-Infinity": float("-inf")}[value]
    if kind == "bigint":
        return int(value)
    if kind in ("array", "set", "nodelist", "htmlcollection"):
        return [python_value(v) for v in value or []]
    if kind in ("object", "map"):
        return {k if isinstance(k, str) else python_value(k): python_value(v) for k, v in value or []}
    return value


class Firefox:
    name = "firefox"

    def __init__(self, width, height, start_timeout=60):
        self.profile = tempfile.mkdtemp(prefix="tailcast-firefox-")
        with open(os.path.join(self.profile, "user.js"), "w") as prefs:
            prefs.writelines(f"user_pref({json.dumps(k)}, {json.dumps(v)});\n" for k, v in PREFS.items())
        self.log = open(os.path.join(self.profile, "firefox.log"), "wb")
        # Port 0: Firefox picks a free one and writes it to WebDriverBiDiServer.json in the profile.
        self.process = subprocess.Popen(
            [FIREFOX, "--headless", "--no-remote", "--remote-debugging-port", "0", "--profile", self.profile,
             "--width", str(width), "--height", str(height)],
            stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.next_id = 0
        self.errors = []
        self.socket = None
        try:
            self.socket = self._connect(time.monotonic() + start_timeout)
            self.command("session.new", capabilities={}, timeout=start_timeout)
            self.command("session.subscribe", events=["log.entryAdded"])
            self.command("script.addPreloadScript", functionDeclaration=REPORT_REFUSALS)
            self.context = self.command("browsingContext.getTree", maxDepth=0)["contexts"][0]["context"]
        except BaseException as error:
            # quit() deletes the profile and the log with it: what Firefox said goes into the error.
            with open(self.log.name, "rb") as log:
                said = log.read()[-2000:].decode("utf-8", "replace")
            self.quit()
            raise BiDiError(f"firefox did not start: {error!r}; it said:\n{said}") from error

    def _connect(self, deadline):
        server = os.path.join(self.profile, "WebDriverBiDiServer.json")
        while True:
            try:
                with open(server) as f:
                    port = json.load(f)["ws_port"]
                # Entered by hand: the connection lives as long as the browser, not a `with` block.
                return connect(f"ws://127.0.0.1:{port}/session", max_size=None, open_timeout=5).__enter__()
            except (OSError, ValueError, KeyError):
                if self.process.poll() is not None:
                    raise BiDiError(f"firefox exited with {self.process.returncode}")
                if time.monotonic() > deadline:
                    raise BiDiError("firefox's WebDriver BiDi did not answer")
                time.sleep(0.1)

    def command(self, method, timeout=30, **params):
        """Sends one command and waits for its answer, keeping the log events that come in between."""
        self.next_id += 1
        self.socket.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        deadline = time.monotonic() + timeout
        while True:
            message = json.loads(self.socket.recv(timeout=max(0.0, deadline - time.monotonic())))
            if message.get("method") == "log.entryAdded":
                entry = message["params"]
                if entry.get("level") == "error":
                    self.errors.append(entry.get("text", ""))
            elif message.get("id") == self.next_id:
                if message["type"] == "error":
                    raise BiDiError(f"{method}: {message['error']}: {message.get('message', '')}")
                return message["result"]

    def open(self, url):
        self.command("browsingContext.navigate", context=self.context, url=url, wait="complete")

    def js(self, body, *args):
        """Runs a function body (`arguments` are args, as Selenium's execute_script) and returns its value,
        awaited when it is a promise."""
        answer = self.command("script.callFunction", functionDeclaration="function () {\n" + body + "\n}",
                              arguments=[local_value(a) for a in args], awaitPromise=True,
                              target={"context": self.context}, resultOwnership="none")
        if answer["type"] == "exception":
            raise BiDiError("script: " + answer["exceptionDetails"]["text"])
        return python_value(answer["result"])

    def viewport(self, width=None, height=None):
        """The page's viewport in CSS pixels; no size: back to the window's."""
        size = {"width": width, "height": height} if width else None
        self.command("browsingContext.setViewport", context=self.context, viewport=size)

    def wheel(self, x, y, delta_y):
        """Turns the mouse wheel over viewport point (x, y): a real input event, scrolled as Firefox scrolls."""
        self.command("input.performActions", context=self.context, actions=[{"type": "wheel", "id": "wheel", "actions": [
            {"type": "scroll", "x": x, "y": y, "deltaX": 0, "deltaY": delta_y, "origin": "viewport"}]}])

    def swipe(self, x, from_y, to_y):
        """A finger on the touch screen at viewport point (x, from_y), moved to (x, to_y) and lifted."""
        self.command("input.performActions", context=self.context, actions=[{
            "type": "pointer", "id": "finger", "parameters": {"pointerType": "touch"}, "actions": [
                {"type": "pointerMove", "x": x, "y": from_y}, {"type": "pointerDown", "button": 0},
                {"type": "pointerMove", "x": x, "y": to_y, "duration": 200}, {"type": "pointerUp", "button": 0}]}])

    def key(self, key):
        """Presses and releases one key (a WebDriver key code, "\\ue00e" for Page Up) in the focused element."""
        self.command("input.performActions", context=self.context, actions=[{"type": "key", "id": "keyboard", "actions": [
            {"type": "keyDown", "value": key}, {"type": "keyUp", "value": key}]}])

    def screenshot(self, path):
        data = self.command("browsingContext.captureScreenshot", context=self.context)["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))

    def console_errors(self):
        """The errors logged by pages (console.error, uncaught exceptions) since the last call."""
        errors, self.errors = self.errors, []
        return errors

    def quit(self):
        if self.socket:
            try:
                self.command("session.end", timeout=5)
            except Exception:
                pass  # going away anyway: the process is ended below
            self.socket.close()
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()
        shutil.rmtree(self.profile, ignore_errors=True)
