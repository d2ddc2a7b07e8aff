"""Drives the broker's web dashboard in a real browser (headless Chromium through Selenium) against a running
`starling` with its HTTP listener, while paho-mqtt clients connect, subscribe and publish.

    python3 Tests/Operations/dashboard_test.py --http http://127.0.0.1:HTTPPORT --mqtt-port MQTTPORT --screenshots DIR
        [--token TOKEN] [--chromium /usr/bin/chromium] [--chromedriver /usr/bin/chromedriver]

It checks that: the overview shows the broker's version; an MQTT 5.0 client shows up on the clients page when
searched by its client id prefix, and its detail lists its subscription; Kick (confirmed on the page) disconnects
that client with reason code 0x98 (Administrative action), and "Kick and discard session" then ends its session
(404 from the API); the subscriptions page filters by client; a retained message published with paho is listed with
its payload text, can be deleted from the page, and is then gone from the API (404); the topic tree lists a
subscribed filter; the message rate chart gains points while messages flow. The page must show no API error and
the browser console no error along the way.

Saves overview.png, clients.png, client-detail.png, retained.png, topics.png and overview-phone.png into the
screenshots directory (and failure.png when something fails). Prints `PASS dashboard` and exits 0 when everything
holds; otherwise prints one line saying what failed and exits 1.

Needs Debian's `chromium` and `chromium-driver`, and PyPI `selenium` and `paho-mqtt` 2.x.
"""

import argparse
import json
import os
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

HOST = "127.0.0.1"
ADMINISTRATIVE_ACTION = 0x98
WAIT = 10  # seconds for anything the page or the broker should do at once
TOTAL_BUDGET = 90  # seconds for the whole test


class CheckFailed(Exception):
    pass


def check(condition, reason):
    if not condition:
        raise CheckFailed(reason)


# ---------------------------------------------------------------- MQTT side


class Client:
    """A paho-mqtt 2.x MQTT 5.0 client whose events can be waited for."""

    def __init__(self, client_id, port, session_expiry=0):
        self.client_id = client_id
        self.connected = threading.Event()
        self.disconnected = threading.Event()
        self.subscribed = threading.Event()
        self.connect_reason = None
        self.disconnect_reason = None
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
        # A kicked client must not come straight back while the test looks at it.
        self.client.reconnect_delay_set(min_delay=60, max_delay=120)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_subscribe = self._on_subscribe
        properties = Properties(PacketTypes.CONNECT)
        properties.SessionExpiryInterval = session_expiry
        self.client.connect(HOST, port, keepalive=30, clean_start=True, properties=properties)
        self.client.loop_start()
        check(self.connected.wait(WAIT), f"MQTT client {client_id} got no CONNACK within {WAIT} s")
        check(self.connect_reason == 0, f"MQTT client {client_id} was refused: {self.connect_reason}")

    def _on_connect(self, client, userdata, flags, reason_code, properties):
        self.connect_reason = reason_code.value
        self.connected.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties):
        if not self.disconnected.is_set():
            self.disconnect_reason = reason_code.value if reason_code is not None else None
            self.disconnected.set()

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties):
        self.subscribed.set()

    def subscribe(self, topic_filter, qos=1):
        self.subscribed.clear()
        self.client.subscribe(topic_filter, qos=qos)
        check(self.subscribed.wait(WAIT), f"no SUBACK for {topic_filter} within {WAIT} s")

    def publish(self, topic, payload, qos=1, retain=False):
        info = self.client.publish(topic, payload, qos=qos, retain=retain)
        if qos > 0:
            info.wait_for_publish(timeout=WAIT)
            check(info.is_published(), f"publishing to {topic} was not acknowledged within {WAIT} s")

    def close(self):
        try:
            if not self.disconnected.is_set():
                self.client.disconnect()
        finally:
            self.client.loop_stop()


# ---------------------------------------------------------------- browser side


class Dashboard:
    def __init__(self, args):
        self.base = args.http.rstrip("/")
        self.token = args.token
        self.shots = args.screenshots
        options = webdriver.ChromeOptions()
        options.binary_location = args.chromium
        for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                         "--window-size=1280,900", "--no-first-run", "--disable-extensions"):
            options.add_argument(argument)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        # An explicit driver path: Selenium's own driver manager would go to the internet.
        service = Service(executable_path=args.chromedriver)
        self.driver = webdriver.Chrome(service=service, options=options)
        self.driver.set_page_load_timeout(WAIT)
        self.driver.set_window_size(1280, 900)

    def quit(self):
        self.driver.quit()

    def screenshot(self, name):
        path = os.path.join(self.shots, name)
        check(self.driver.save_screenshot(path), f"could not save the screenshot {path}")

    def wait(self, condition, what, timeout=WAIT):
        try:
            return WebDriverWait(self.driver, timeout, poll_frequency=0.1,
                                 ignored_exceptions=(StaleElementReferenceException,)).until(lambda d: condition())
        except TimeoutException:
            error = self.shown_error()
            suffix = f" (the page shows the error: {error})" if error else ""
            raise CheckFailed(f"timed out after {timeout} s waiting for {what}{suffix}") from None

    def find(self, css):
        elements = self.driver.find_elements(By.CSS_SELECTOR, css)
        return elements[0] if elements else None

    def text(self, css):
        element = self.find(css)
        return element.text if element is not None else ""

    def loaded(self, table_css, parameter, value):
        """Whether the table shows the answer to a query with this parameter."""
        element = self.find(table_css)
        loaded = element.get_attribute("data-query") if element is not None else None
        return loaded is not None and f"{parameter}={encode_component(value)}" in loaded

    def visible(self, css):
        element = self.find(css)
        return element if element is not None and element.is_displayed() else None

    def shown_error(self):
        if self.visible("#error") is None:
            return None
        return self.text("#error-text").strip()

    def sign_in_if_asked(self):
        auth = self.visible("#auth")
        if auth is None:
            return False
        check(self.token, "the dashboard asks for an access token; pass --token")
        field = self.find("#auth-token")
        field.clear()
        field.send_keys(self.token)
        self.find("#auth-submit").click()
        self.wait(lambda: self.visible("#auth") is None, "the access token form to close")
        return True

    def open(self, fragment, view):
        self.driver.get(f"{self.base}/{fragment}")
        self.wait(lambda: self.visible(f"#view-{view}") or self.visible("#auth"), f"the {view} page")
        if self.sign_in_if_asked():
            self.wait(lambda: self.visible(f"#view-{view}"), f"the {view} page after signing in")

    def go(self, fragment, view):
        """Navigates inside the page, as a person clicking the menu would."""
        self.driver.execute_script("location.hash = arguments[0]", fragment)
        self.wait(lambda: self.visible(f"#view-{view}"), f"the {view} page")

    def no_error(self, where):
        error = self.shown_error()
        check(error is None, f"{where}: the page shows an error: {error}")

    def type_into(self, css, text, submit=False):
        field = self.find(css)
        check(field is not None, f"no field {css}")
        field.clear()
        field.send_keys(text)
        if submit:
            field.send_keys(Keys.ENTER)

    def number(self, css):
        digits = "".join(c for c in self.text(css) if c.isdigit())
        return int(digits) if digits else -1

    def attribute_int(self, css, name):
        element = self.find(css)
        value = element.get_attribute(name) if element is not None else None
        try:
            return int(value)
        except (TypeError, ValueError):
            return -1

    def attribute_float(self, css, name):
        element = self.find(css)
        value = element.get_attribute(name) if element is not None else None
        try:
            return float(value)
        except (TypeError, ValueError):
            return -1.0

    def console_errors(self):
        try:
            entries = self.driver.get_log("browser")
        except WebDriverException:
            return []
        # Answers such as 401 and 404 are logged as network errors; only script errors count.
        return [e.get("message", "") for e in entries if e.get("level") == "SEVERE" and e.get("source") != "network"]


def encode_component(value):
    return urllib.parse.quote(value, safe="-_.!~*'()")  # as JavaScript's encodeURIComponent


def css_string(value):
    return json.dumps(value)  # a CSS string literal for attribute selectors


def http_status(base, path, token):
    request = urllib.request.Request(base.rstrip("/") + path)
    if token:
        request.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(request, timeout=WAIT) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


# ---------------------------------------------------------------- the test


def run(args, page, clients):
    started = time.monotonic()
    tag = uuid.uuid4().hex[:10]
    prefix = f"dash-{tag}"
    subscriber_id = f"{prefix}-subscriber"
    publisher_id = f"{prefix}-publisher"
    kicked_filter = f"dashtest/{tag}/+/command"
    tree_filter = f"dashtest/{tag}/tree/+/leaf"
    retained_topic = f"dashtest/{tag}/retained/hello world"
    retained_payload = f"hello from the dashboard test {tag} \u2713"

    def budget(step):
        elapsed = time.monotonic() - started
        check(elapsed < TOTAL_BUDGET, f"the test took longer than {TOTAL_BUDGET} s (at: {step})")

    # MQTT clients: one to kick (its session outlives the connection), one that stays.
    subscriber = Client(subscriber_id, args.mqtt_port, session_expiry=300)
    clients.append(subscriber)
    subscriber.subscribe(kicked_filter, qos=1)
    publisher = Client(publisher_id, args.mqtt_port)
    clients.append(publisher)
    publisher.subscribe(tree_filter, qos=0)

    # Overview: the statistics arrive.
    page.open("#/overview", "overview")
    page.wait(lambda: page.text("#stat-version").strip() not in ("", "–"), "the broker version on the overview")
    page.wait(lambda: page.text("#stat-connections").strip() not in ("", "–"), "the connection count")
    page.no_error("overview")
    budget("overview")

    # Clients: search by the client id prefix.
    page.go("#/clients", "clients")
    page.type_into("#clients-search", prefix)
    row_css = f"#clients-body tr[data-client-id={css_string(subscriber_id)}]"
    page.wait(lambda: page.loaded("#clients-table", "prefix", prefix), f"the clients table searched for {prefix}")
    page.wait(lambda: page.visible(row_css), f"{subscriber_id} in the clients table after searching for {prefix}")
    page.wait(lambda: len(page.driver.find_elements(By.CSS_SELECTOR, "#clients-body tr[data-client-id]")) == 2,
              f"exactly the two clients of prefix {prefix} in the table")
    row = page.find(row_css)
    check("connected" in row.text, f"the row of {subscriber_id} does not say connected: {row.text!r}")
    page.no_error("clients")
    page.screenshot("clients.png")
    budget("clients")

    # Its detail: every field, and its subscription.
    row.click()
    page.wait(lambda: page.visible("#view-client"), "the client detail page")
    page.wait(lambda: subscriber_id in page.text("#client-detail"), f"the detail of {subscriber_id}")
    sub_css = f"#client-subscriptions-body tr[data-filter={css_string(kicked_filter)}]"
    page.wait(lambda: page.visible(sub_css), f"the subscription {kicked_filter} in the client detail")
    detail = page.text("#client-detail")
    check("5.0" in detail, f"the detail does not show protocol 5.0: {detail!r}")
    page.no_error("client detail")
    page.screenshot("client-detail.png")

    # Kick it, confirming on the page; paho sees DISCONNECT 0x98.
    page.find("#client-kick").click()
    page.wait(lambda: page.visible("#client-confirm-yes"), "the kick confirmation")
    check(not subscriber.disconnected.is_set(), "the client was disconnected before the kick was confirmed")
    page.find("#client-confirm-yes").click()
    check(subscriber.disconnected.wait(WAIT), f"the kicked client got no disconnection within {WAIT} s")
    check(subscriber.disconnect_reason == ADMINISTRATIVE_ACTION,
          f"the kicked client was disconnected with reason code {subscriber.disconnect_reason!r}, "
          f"not 0x98 (Administrative action)")
    page.wait(lambda: page.visible("#client-result") and "Disconnected" in page.text("#client-result"),
              "the page to report the disconnection")
    page.no_error("kick")

    # Its session outlived the kick; "Kick and discard session" ends it.
    page.find("#client-kick-discard").click()
    page.wait(lambda: page.visible("#client-confirm-yes"), "the discard confirmation")
    page.find("#client-confirm-yes").click()
    page.wait(lambda: "Session discarded" in page.text("#client-result"), "the page to report the discarded session")
    encoded_id = urllib.parse.quote(subscriber_id, safe="")
    status = http_status(args.http, f"/api/v1/clients/{encoded_id}", args.token)
    check(status == 404, f"GET /api/v1/clients/{encoded_id} answered {status} after discarding the session, not 404")
    page.no_error("kick and discard")
    budget("kick")

    # Subscriptions: filtered by client.
    page.go("#/subscriptions", "subscriptions")
    page.type_into("#subscriptions-client", publisher_id, submit=True)
    page.wait(lambda: page.loaded("#subscriptions-table", "client", publisher_id), f"the subscriptions of {publisher_id}")
    page.wait(lambda: page.visible(f"#subscriptions-body tr[data-filter={css_string(tree_filter)}]"),
              f"the subscription {tree_filter} of {publisher_id} on the subscriptions page")
    page.no_error("subscriptions")

    # Retained: publish with paho, find it on the page with its text, delete it from the page.
    publisher.publish(retained_topic, retained_payload.encode("utf-8"), qos=1, retain=True)
    page.go("#/retained", "retained")
    page.type_into("#retained-pattern", f"dashtest/{tag}/#", submit=True)
    page.wait(lambda: page.loaded("#retained-table", "pattern", f"dashtest/{tag}/#"), "the retained messages of the pattern")
    retained_css = f"#retained-body tr[data-topic={css_string(retained_topic)}]"
    page.wait(lambda: page.visible(retained_css), f"the retained message of {retained_topic!r} in the list")
    page.wait(lambda: retained_payload in page.text(retained_css),
              f"the payload text {retained_payload!r} in the retained list")
    page.no_error("retained")
    page.screenshot("retained.png")
    page.find(retained_css).click()
    page.wait(lambda: page.visible("#view-retained-message"), "the retained message page")
    page.wait(lambda: page.text("#retained-payload") == retained_payload, "the payload on the retained message page")
    page.wait(lambda: page.find("#retained-delete").is_enabled(), "the Delete button")
    page.find("#retained-delete").click()
    page.wait(lambda: page.visible("#retained-confirm-yes"), "the delete confirmation")
    page.find("#retained-confirm-yes").click()
    page.wait(lambda: page.visible("#view-retained") and page.visible("#notice"), "the page to report the deletion")
    page.wait(lambda: page.find(retained_css) is None, "the deleted message to leave the list")
    encoded = urllib.parse.quote(retained_topic, safe="")
    status = http_status(args.http, f"/api/v1/retained/{encoded}", args.token)
    check(status == 404, f"GET /api/v1/retained/{encoded} answered {status} after the deletion, not 404")
    page.no_error("retained deletion")
    budget("retained")

    # Topics: the tree has the filter the publisher subscribed to.
    page.go("#/topics", "topics")
    leaf_css = f"#topics-tree li[data-filter={css_string(tree_filter)}]"
    page.wait(lambda: page.visible(leaf_css), f"the filter {tree_filter} in the topic tree")
    subscribers = page.attribute_int(leaf_css, "data-subscribers")
    check(subscribers >= 1, f"the topic tree gives {tree_filter} {subscribers} subscribers")
    page.no_error("topics")
    page.screenshot("topics.png")
    budget("topics")

    # Overview: the message rate chart gains points while messages flow.
    page.go("#/overview", "overview")
    chart = "#chart-messages"
    before = page.attribute_int(chart, "data-points")
    check(before >= 0, "the message rate chart has no data-points attribute")
    received_before = page.number("#stat-messages-in")
    for i in range(60):  # to a filter the publisher subscribed to: messages go out as well as in
        publisher.publish(f"dashtest/{tag}/tree/{i % 5}/leaf", f"message {i}".encode(), qos=1)
    page.wait(lambda: page.attribute_int(chart, "data-points") > before and page.attribute_float(chart, "data-max") > 0,
              f"the message rate chart to grow past {before} points and show messages", timeout=20)
    page.wait(lambda: page.number("#stat-messages-in") >= received_before + 60,
              f"the messages received on the overview to grow by 60 from {received_before}")
    page.wait(lambda: page.attribute_int("#chart-connections", "data-points") > 0, "points on the connections chart")
    page.no_error("overview charts")
    page.screenshot("overview.png")
    budget("overview charts")

    # The overview on a phone, loaded afresh at that size.
    page.driver.set_window_size(390, 844)
    page.driver.refresh()
    page.wait(lambda: page.visible("#view-overview"), "the overview on a phone")
    page.sign_in_if_asked()
    page.wait(lambda: page.text("#stat-version").strip() not in ("", "–"), "the statistics on a phone")
    page.wait(lambda: page.attribute_int(chart, "data-points") > 0, "the rate chart on a phone")

    def page_width():
        return page.driver.execute_script("return [document.documentElement.scrollWidth, window.innerWidth]")

    try:
        page.wait(lambda: page_width()[0] <= page_width()[1], "the overview to fit the width of a phone", timeout=5)
    except CheckFailed:
        width, viewport = page_width()
        raise CheckFailed(f"the overview on a phone is wider ({width} px) than the screen ({viewport} px)") from None
    page.screenshot("overview-phone.png")

    errors = page.console_errors()
    if errors:
        raise CheckFailed(f"the browser console has script errors: {errors[0]}")
    budget("end")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--http", required=True, help="base URL of the HTTP listener, e.g. http://127.0.0.1:8080")
    parser.add_argument("--mqtt-port", type=int, required=True)
    parser.add_argument("--screenshots", required=True, help="directory for the PNG screenshots")
    parser.add_argument("--token", default=None, help="access token, when the listener asks for one")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--chromedriver", default="/usr/bin/chromedriver")
    args = parser.parse_args()
    os.makedirs(args.screenshots, exist_ok=True)

    page = None
    clients = []
    try:
        page = Dashboard(args)
        run(args, page, clients)
    except Exception as error:  # one line saying what failed, whatever it was
        if page is not None:
            try:
                page.driver.save_screenshot(os.path.join(args.screenshots, "failure.png"))
            except Exception:
                pass
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        if not isinstance(error, CheckFailed):
            reason = f"{type(error).__name__}: {reason}"
        print(f"FAIL dashboard: {reason}", flush=True)
        return 1
    finally:
        for client in clients:
            try:
                client.close()
            except Exception:
                pass
        if page is not None:
            try:
                page.quit()
            except Exception:
                pass
    print("PASS dashboard", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
