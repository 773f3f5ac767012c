"""Debian's headless Chromium driven through chromium-driver and Selenium: the browser tests and the web
benchmark (Benchmarks/web.py) start it the same way. `Chromium` gives the tests the same few methods as
firefox.Firefox: open, js, viewport, wheel, swipe, key, screenshot, console_errors, quit."""
import importlib.util
import os

CHROMIUM = "/usr/bin/chromium"
DRIVER = "/usr/bin/chromedriver"


def installed():
    return os.path.exists(CHROMIUM) and os.path.exists(DRIVER) and importlib.util.find_spec("selenium") is not None


def start(window_size, script_timeout):
    """A headless Chromium of `window_size` ("W,H"); the caller quits it."""
    from selenium import webdriver
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", f"--window-size={window_size}"):
        options.add_argument(argument)
    # What the pages log, for console_errors.
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=webdriver.ChromeService(executable_path=DRIVER), options=options)
    driver.set_script_timeout(script_timeout)
    return driver


class Chromium:
    name = "chromium"

    def __init__(self, width, height, script_timeout=10):
        self.driver = start(f"{width},{height}", script_timeout)

    def open(self, url):
        self.driver.get(url)

    def js(self, body, *args):
        """Runs a function body (`arguments` are args) and returns its value, awaited when it is a promise."""
        return self.driver.execute_script(body, *args)

    def viewport(self, width=None, height=None):
        """The page's viewport in CSS pixels; no size: back to the window's."""
        # Not as a mobile device: Chromium would zoom a page wider than the screen out to fit, and innerWidth
        # would grow with it, so a page that scrolls across could not be told.
        if width:
            self.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                                        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
        else:
            self.driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})

    def wheel(self, x, y, delta_y):
        """Turns the mouse wheel over viewport point (x, y): a real input event, scrolled as Chromium scrolls."""
        from selenium.webdriver import ActionChains
        from selenium.webdriver.common.actions.wheel_input import ScrollOrigin
        ActionChains(self.driver).scroll_from_origin(ScrollOrigin.from_viewport(x, y), 0, delta_y).perform()

    def swipe(self, x, from_y, to_y):
        """A finger on the touch screen at viewport point (x, from_y), moved to (x, to_y) and lifted."""
        from selenium.webdriver.common.actions import interaction
        from selenium.webdriver.common.actions.action_builder import ActionBuilder
        from selenium.webdriver.common.actions.pointer_input import PointerInput
        actions = ActionBuilder(self.driver, mouse=PointerInput(interaction.POINTER_TOUCH, "finger"), duration=200)
        actions.pointer_action.move_to_location(x, from_y).pointer_down().move_to_location(x, to_y).pointer_up()
        actions.perform()

    def key(self, key):
        """Presses and releases one key (a WebDriver key code, "\\ue00e" for Page Up) in the focused element."""
        from selenium.webdriver import ActionChains
        ActionChains(self.driver).send_keys(key).perform()

    def screenshot(self, path):
        self.driver.save_screenshot(str(path))

    def console_errors(self):
        """The errors logged by pages (console.error, uncaught exceptions, refused loads) since the last call."""
        return [entry["message"] for entry in self.driver.get_log("browser") if entry["level"] == "SEVERE"]

    def quit(self):
        self.driver.quit()
