"""Debian's headless Chromium driven through chromium-driver and Selenium: the browser tests and the web
benchmark (Benchmarks/web.py) start it the same way."""
import os

CHROMIUM = "/usr/bin/chromium"
DRIVER = "/usr/bin/chromedriver"


def installed():
    return os.path.exists(CHROMIUM) and os.path.exists(DRIVER)


def start(window_size, script_timeout):
    """A headless Chromium of `window_size` ("W,H"); the caller quits it."""
    from selenium import webdriver
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", f"--window-size={window_size}"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=webdriver.ChromeService(executable_path=DRIVER), options=options)
    driver.set_script_timeout(script_timeout)
    return driver
