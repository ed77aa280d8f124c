"""The web inbox and the website widget in a real browser (issue 20). Starts `parley serve` on
its own embedded cluster (PARLEY_DATA_DIR), fills it with `parley demo`, and drives headless
Chromium windows, each its own profile: a website visitor, Avery (agent of `demo`, signed in with
the link the server's banner prints), Hana (agent of `harbor-homes`) and a phone-sized window.

  python browser_check.py --port 8292 --parley .build/debug/parley --data-dir DIR --shots DIR

Every check prints one line; the run exits 1 at the first failure, with a screenshot of each
window and the browsers' console logs.
"""
import argparse
import http.server
import json
import os
import re
import signal
import struct
import subprocess
import sys
import threading
import time
import urllib.request
import zlib

from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException, StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, default=8292)
parser.add_argument("--parley", required=True)
parser.add_argument("--data-dir", required=True)
parser.add_argument("--shots", required=True)
parser.add_argument("--payloads", default=os.path.join(os.path.dirname(__file__), "..", "Tests", "Fixtures", "xss-payloads.json"))
args = parser.parse_args()
os.makedirs(args.shots, exist_ok=True)
BASE = f"http://127.0.0.1:{args.port}"
RUN = str(int(time.time()))
drivers = {}
servers = []


def serve(port):
    """`parley serve` on the embedded cluster; returns the process and its banner once ready."""
    log = open(os.path.join(args.data_dir + "-serve-%d.log" % port), "w+")
    env = dict(os.environ, PARLEY_DATA_DIR=args.data_dir, LOG_LEVEL="warning")
    process = subprocess.Popen([args.parley, "serve", "--port", str(port)], stdout=log, stderr=subprocess.STDOUT, env=env)
    servers.append(process)
    for _ in range(600):
        if process.poll() is not None:
            log.seek(0)
            print(log.read())
            fail(f"parley serve on port {port} exited")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=2):
                log.seek(0)
                return process, log.read()
        except OSError:
            time.sleep(0.2)
    fail(f"parley serve on port {port} was not ready within 120 s")


def stop(process):
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    servers.remove(process)


def check(ok, what):
    if not ok:
        fail(what)
    print(f"ok   {what}")


def fail(what):
    report(what)
    sys.exit(1)


def report(what):
    """Prints the failure with each browser's screenshot and console, then stops browsers and servers."""
    print(f"FAIL {what}")
    for name, driver in drivers.items():
        try:
            driver.save_screenshot(os.path.join(args.shots, f"failure-{name}.png"))
            for entry in driver.get_log("browser"):
                print(f"  [{name} console] {entry['level']} {entry['message']}")
        except Exception as error:  # noqa: BLE001 - the report must not hide the failure
            print(f"  ({name}: {error})")
    finish()


def on_uncaught(kind, value, trace):
    """An exception no check caught (a vanished element, a lost driver) fails the run as a check
    does: reported, and no browser, server or cluster left running."""
    sys.__excepthook__(kind, value, trace)
    report(f"{kind.__name__}: {str(value).splitlines()[0] if str(value) else ''}")


sys.excepthook = on_uncaught


def finish():
    for driver in drivers.values():
        driver.quit()
    drivers.clear()
    for process in list(servers):
        stop(process)

def wait_for(condition, what, timeout=15.0):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            value = condition()
            if value:
                print(f"ok   {what}")
                return value
        except (StaleElementReferenceException, LookupError) as error:
            last = error
        time.sleep(0.1)
    fail(f"{what} (not within {timeout:.0f} s{'; ' + str(last) if last else ''})")


def browser(name, width=1280, height=860):
    options = webdriver.ChromeOptions()
    options.binary_location = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    for flag in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                 f"--window-size={width},{height}", "--lang=en-US"]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")))
    drivers[name] = driver
    return driver


def token(tenant, sub, name):
    return subprocess.run(
        [args.parley, "token", "--tenant", tenant, "--sub", sub, "--role", "agent", "--name", name, "--data-dir", args.data_dir],
        check=True, capture_output=True, text=True).stdout.strip()


def api(method, path, bearer, body=None):
    request = urllib.request.Request(BASE + path, method=method, headers={"Authorization": "Bearer " + bearer})
    if body is not None:
        request.data = json.dumps(body).encode()
        request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request) as response:
        return json.loads(response.read() or b"null")


def css(driver, selector):
    return driver.find_elements(By.CSS_SELECTOR, selector)


def open_session(driver, name, what):
    """Clicks the session list's row naming `name`. The list is re-rendered by live events, so a
    row found a moment ago may be gone by the click: found and clicked again until it works."""
    def click():
        row = next((b for b in css(driver, "#sessions [data-session]") if name in b.text), None)
        if row is None:
            return False
        row.click()
        return True
    wait_for(click, what)


def text(driver, selector):
    found = css(driver, selector)
    return found[0].text if found else ""


def no_alert(driver, name):
    try:
        alert = driver.switch_to.alert
        fail(f"{name}: a script ran: alert {alert.text!r}")
    except NoAlertPresentException:
        pass


def png(path, width=24, height=16):
    rows = b"".join(b"\x00" + bytes([30, 95, 191]) * width for _ in range(height))
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    with open(path, "wb") as file:
        file.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
                   + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def shot(driver, name):
    path = os.path.join(args.shots, name + ".png")
    driver.save_screenshot(path)
    print(f"     screenshot {path}")


# ——— the server, its banner's inbox link, the demo data ———
server, banner = serve(args.port)
link = re.search(r"inbox \(as the demo agent Avery, link valid 1 hour\): (\S+)", banner)
check(link and link.group(1).startswith(f"{BASE}/app/#token="), "parley serve prints a link that opens the inbox as the demo agent")
demo = subprocess.run([args.parley, "demo", "--base-url", BASE, "--data-dir", args.data_dir], capture_output=True, text=True)
check(demo.returncode == 0 and "Open the inbox" in demo.stdout, "parley demo fills the demo brokerage and harbor-homes")

# ——— the static app itself ———
with urllib.request.urlopen(BASE + "/app/") as response:
    policy = response.headers.get("Content-Security-Policy", "")
    check(response.status == 200 and "script-src 'self'" in policy and "unsafe-inline" not in policy,
          "/app/ is served with a Content-Security-Policy that allows no inline script")

avery_token = token("demo", "agent-1", "Avery Agent")
hana_token = token("harbor-homes", "hana", "Hana Ito")

# ——— Avery opens the inbox from a link with the token in the fragment ———
avery = browser("avery")
avery.get(link.group(1))
wait_for(lambda: "live" in text(avery, "#connection"), "the inbox connects to the stream")
check("token=" not in avery.current_url, "the token is removed from the address bar")
wait_for(lambda: len(css(avery, "#sessions [data-session]")) >= 3, "the demo's conversations are listed")
check(text(avery, "#brokerage") == "Demo Brokerage" and "Avery Agent" in text(avery, "#me"), "the header names the brokerage and the agent")
unlabelled = avery.execute_script("""
    return [...document.querySelectorAll('input:not([type=hidden]), textarea, select, button')]
      .filter(e => e.offsetParent !== null)
      .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label') && !e.textContent.trim())
      .map(e => e.outerHTML.slice(0, 80));""")
check(not unlabelled, f"every visible control has a label or text{': ' + str(unlabelled) if unlabelled else ''}")
wait_for(lambda: css(avery, "#sessions .item.unread .count"), "an unread conversation shows its unread count")
wait_for(lambda: text(avery, "#badge-total") not in ("", "0"), "the sidebar badge counts unread messages and pending requests")
pending_before = int(text(avery, "#request-count") or "0")
shot(avery, "inbox")

# A conversation with history: the listing card, the image preview, ✓ / ✓✓.
open_session(avery, "Maria", "Avery opens Maria's conversation")
wait_for(lambda: len(css(avery, ".messages .message")) >= 5, "Maria's conversation shows its history")
wait_for(lambda: css(avery, ".messages .listing"), "a shared listing shows as a card")
wait_for(lambda: avery.execute_script(
    "return [...document.querySelectorAll('.messages img.preview')].some(i => i.complete && i.naturalWidth > 0)"),
    "an image attachment shows a preview")
check(css(avery, ".messages .delivery"), "Avery's own messages show ✓ or ✓✓")
shot(avery, "conversation")

# ——— a visitor uses the widget ———
# A brokerage's listing page on another origin embeds the widget in an iframe; the brokerage
# lists that origin in allowedOrigins. A site it does not list cannot frame the widget.
# The host page also passes a relative listing url, which the API refuses: the widget leaves it
# off, and the visitor's request goes through (it failed for every visitor before).
widget = (f"{BASE}/app/widget.html?brokerage=demo&agent=agent-1&listingId=ML5550"
          f"&address=12%20Harbor%20Way&price=1250000&url=%2Flistings%2FML5550")


class ListingPage(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - the stdlib's name
        page = (f'<!doctype html><title>12 Harbor Way</title><h1>12 Harbor Way</h1>'
                f'<iframe id="chat" src="{widget}" title="Chat with an agent" style="width:400px;height:760px;border:0"></iframe>')
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.end_headers()
        self.wfile.write(page.encode())

    def log_message(self, *_):
        pass


sites = []
for _ in range(2):
    site = http.server.ThreadingHTTPServer(("127.0.0.1", 0), ListingPage)
    threading.Thread(target=site.serve_forever, daemon=True).start()
    sites.append(f"http://127.0.0.1:{site.server_address[1]}")
allowed_site, other_site = sites
operator = open(os.path.join(args.data_dir, "operator-key")).read().strip()
api("PATCH", "/v1/tenants/demo/settings", operator, {"allowedOrigins": [allowed_site]})

visitor = browser("visitor", 440, 860)
visitor.get(other_site + "/listing.html")
time.sleep(1.5)
visitor.switch_to.frame(visitor.find_element(By.ID, "chat"))
check(not css(visitor, "#request-form"), "a site the brokerage does not list cannot frame the widget (frame-ancestors)")
visitor.switch_to.default_content()
visitor.get_log("browser")  # the refused frame's console error, expected
visitor.get(allowed_site + "/listing.html")
visitor.switch_to.frame(wait_for(lambda: css(visitor, "#chat"), "the brokerage's listing page embeds the widget")[0])
wait_for(lambda: css(visitor, "#request-form:not([hidden])"), "the widget shows the form")
check(css(visitor, "#about .listing"), "the widget shows the listing it is about")
honeypot = css(visitor, "#website")[0]
check(not honeypot.is_displayed(), "the honeypot field is not visible")
visitor.find_element(By.ID, "name").send_keys(f"Vera Visitor {RUN}")
visitor.find_element(By.ID, "email").send_keys(f"vera{RUN}@example.com")
visitor.find_element(By.ID, "message").send_keys(f"Is the loft still available? quokka{RUN}")
shot(visitor, "widget")
visitor.find_element(By.CSS_SELECTOR, "#request-form button[type=submit]").click()
wait_for(lambda: css(visitor, "#waiting:not([hidden])"), "the visitor waits for the agent")

# Avery sees the request arrive live and accepts it.
wait_for(lambda: int(text(avery, "#request-count") or "0") == pending_before + 1, "the pending-request count goes up live")
avery.find_element(By.CSS_SELECTOR, ".nav[data-view=requests]").click()
card = wait_for(lambda: next((c for c in css(avery, "#requests .card")
                             if f"Vera Visitor {RUN}" in c.text and f"quokka{RUN}" in c.text and "12 Harbor Way" in c.text), None),
                "the request is listed with the visitor's name, the message and the property")
shot(avery, "requests")
marcus = next(c for c in css(avery, "#requests .card") if "Marcus Chen" in c.text)
marcus.find_element(By.XPATH, ".//button[text()='Decline…']").click()
marcus.find_element(By.CSS_SELECTOR, "textarea").send_keys("Outside my area; referred to Kai.")
marcus.find_element(By.CSS_SELECTOR, ".inline-form button[type=submit]").click()
wait_for(lambda: not any("Marcus Chen" in c.text for c in css(avery, "#requests .card")), "a declined request leaves the pending list")
avery.find_element(By.CSS_SELECTOR, "[data-request-status='']").click()
wait_for(lambda: any("Marcus Chen" in c.text and "Outside my area; referred to Kai." in c.text and "declined" in c.text
                     for c in css(avery, "#requests .card")), "All shows it declined, with the notes only its agent sees")
elena = wait_for(lambda: next((c for c in css(avery, "#requests .card") if "Elena" in c.text), None), "Elena's request is listed")
elena.find_element(By.XPATH, ".//button[text()='Convert to CRM']").click()
wait_for(lambda: any("In your contacts" in c.text for c in css(avery, "#requests .card") if "Elena" in c.text),
         "Convert to CRM makes Elena a contact")
check(any("Elena" in c["FullName"] for c in api("GET", "/v1/contacts?q=elena", avery_token)["items"]), "the contact is in Avery's CRM (API)")
avery.find_element(By.CSS_SELECTOR, "[data-request-status=pending]").click()
card = wait_for(lambda: next((c for c in css(avery, "#requests .card") if f"Vera Visitor {RUN}" in c.text), None), "back to the pending list")
# A decline note being typed survives another visitor's request arriving: the list refreshes
# live, and used to rebuild every card, open forms and all.
decline = card.find_element(By.XPATH, ".//button[text()='Decline…']")
avery.execute_script("arguments[0].scrollIntoView({block: 'center'})", decline)  # not under the sticky tabs
decline.click()
card.find_element(By.CSS_SELECTOR, ".inline-form textarea").send_keys("Half a thought")
api("POST", "/v1/public/demo/chat-requests", "none",
    {"agentId": "agent-1", "name": f"Walter Walk-in {RUN}", "email": f"walter{RUN}@example.com", "message": "Any open houses?"})
wait_for(lambda: any(f"Walter Walk-in {RUN}" in c.text for c in css(avery, "#requests .card")), "another visitor's request arrives live")
check(card.find_element(By.CSS_SELECTOR, ".inline-form textarea").get_attribute("value") == "Half a thought",
      "the decline note being typed is still there")
avery.execute_script("arguments[0].scrollIntoView({block: 'center'})", decline)
decline.click()
accept = card.find_element(By.XPATH, ".//button[text()='Accept']")
avery.execute_script("arguments[0].scrollIntoView({block: 'center'})", accept)  # not under the sticky tabs
accept.click()
wait_for(lambda: f"Vera Visitor {RUN}" in text(avery, "#conversation-title"), "accepting opens the conversation")
wait_for(lambda: f"quokka{RUN}" in text(avery, ".messages"), "the visitor's message is message 1")

wait_for(lambda: css(visitor, "#chat:not([hidden]) .composer"), "the visitor's widget turns into the chat", timeout=20)
wait_for(lambda: f"quokka{RUN}" in text(visitor, ".messages"), "the visitor sees their request's message")
wait_for(lambda: css(visitor, ".messages .message.mine .delivery.read"), "the visitor's message turns ✓✓ once Avery has read it")

# Messages both ways, live, sent with Enter.
box = avery.find_element(By.CSS_SELECTOR, ".composer textarea")
box.send_keys("Hello Vera! Yes, it is. ")
avery.find_element(By.CSS_SELECTOR, ".composer .format[title=Bold]").click()
box.send_keys("Tours", Keys.END, f" on Saturday {RUN}", Keys.ENTER)
wait_for(lambda: f"Tours on Saturday {RUN}" in text(visitor, ".messages"), "Avery's message appears in the widget without reload")
check(any(e.text == "Tours" for e in css(visitor, ".messages strong")), "the Bold button's formatting is rendered")
vbox = visitor.find_element(By.CSS_SELECTOR, ".composer textarea")
vbox.send_keys("Great, see you")
wait_for(lambda: "is typing" in text(avery, ".typing"), "Avery sees the visitor typing")
vbox.send_keys(f" then {RUN}", Keys.ENTER)
wait_for(lambda: f"see you then {RUN}" in text(avery, ".messages"), "the visitor's reply appears in the inbox without reload")
wait_for(lambda: "is typing" not in text(avery, ".typing"), "the typing indicator goes when the message comes")

# An attachment from the visitor: the agent sees the preview and opens it.
image = os.path.join(args.shots, "floorplan.png")
png(image)
visitor.find_element(By.CSS_SELECTOR, ".composer input[type=file]").send_keys(image)
wait_for(lambda: "floorplan.png" in text(visitor, ".chips"), "the upload is listed before sending")
visitor.find_element(By.CSS_SELECTOR, ".composer button[type=submit]").click()
wait_for(lambda: avery.execute_script(
    "return [...document.querySelectorAll('.messages img.preview[alt=\"floorplan.png\"]')].some(i => i.complete && i.naturalWidth === 24)"),
    "the image arrives live with its preview")
avery.find_element(By.CSS_SELECTOR, ".messages img.preview[alt='floorplan.png']").click()
wait_for(lambda: avery.execute_script(
    "const d = document.querySelector('dialog.viewer[open]'); const i = d && d.querySelector('img');"
    "return !!i && i.complete && i.naturalWidth === 24"), "clicking the image opens it full size")
shot(avery, "attachment")
avery.switch_to.active_element.send_keys(Keys.ESCAPE)
wait_for(lambda: not css(avery, "dialog.viewer[open]"), "Esc closes it")
shot(visitor, "widget-chat")

# ——— search ———
search = avery.find_element(By.ID, "search")
search.send_keys(f"quokka{RUN}", Keys.ENTER)
result = wait_for(lambda: next((r for r in css(avery, "#search-results .result") if f"Vera Visitor {RUN}" in r.text), None),
                  "search finds the conversation")
check(result.find_elements(By.CSS_SELECTOR, "mark"), "the matched word is highlighted")
shot(avery, "search")
search.send_keys(Keys.ESCAPE)

# ——— hostile text renders inert ———
with open(args.payloads) as file:
    payloads = json.load(file)
opened = api("GET", "/v1/sessions?status=active&limit=50", avery_token)["items"]
vera = next(s for s in opened if s["title"] == f"Vera Visitor {RUN}")
for index, payload in enumerate(payloads):
    api("POST", f"/v1/sessions/{vera['id']}/messages", avery_token, {"clientMessageId": f"xss-{RUN}-{index}", "text": payload})
wait_for(lambda: visitor.execute_script("return document.querySelectorAll('.messages .message').length") >= len(payloads) + 4,
         f"the {len(payloads)} payloads of the XSS corpus arrive in the widget", timeout=30)
time.sleep(1)
for name, driver in [("visitor", visitor), ("avery", avery)]:
    no_alert(driver, name)
    live = driver.execute_script("""
        const root = document.querySelector('.messages');
        const bad = root.querySelectorAll('script, iframe, object, embed, svg, math, img:not(.preview), input, form, style, link, meta, base, details, body *[onload]');
        const handlers = [...root.querySelectorAll('*')].filter(e => [...e.attributes].some(a => a.name.startsWith('on') || a.name === 'style'));
        const links = [...root.querySelectorAll('a[href]')].filter(a => !/^(https?:|mailto:|#$|blob:)/i.test(a.getAttribute('href')));
        return bad.length + handlers.length + links.length;""")
    check(live == 0, f"{name}: no payload became live markup (script, handler, javascript: link)")
check(visitor.execute_script("return document.querySelector('.messages').textContent").count("<script>alert(1)</script>") >= 3,
      "payloads show as the text that was sent")

# ——— history paging, and close / reopen seen live by the visitor ———
total = len(payloads) + 4
avery.find_element(By.CSS_SELECTOR, ".nav[data-view=sessions]").click()
open_session(avery, f"Vera Visitor {RUN}", "Avery opens Vera's conversation")
wait_for(lambda: len(css(avery, ".messages .message")) == 30 and css(avery, ".older:not([hidden])"),
         "a long conversation opens with its newest 30 messages and a way to older ones")
avery.find_element(By.CSS_SELECTOR, ".older").click()
wait_for(lambda: len(css(avery, ".messages .message")) == total and css(avery, ".older[hidden]"), f"Load older shows all {total}, in order")
seqs = avery.execute_script("return [...document.querySelectorAll('.messages .message')].map(m => Number(m.dataset.seq))")
check(seqs == list(range(1, total + 1)), "messages are in seq order after paging")
avery.find_element(By.CSS_SELECTOR, "[data-action=close]").click()
wait_for(lambda: "closed" in text(visitor, ".conversation-status") and not visitor.find_element(By.CSS_SELECTOR, ".composer textarea").is_enabled(),
         "Avery closes the conversation; the widget shows it closed, live")
avery.find_element(By.CSS_SELECTOR, "[data-action=reopen]").click()
wait_for(lambda: visitor.find_element(By.CSS_SELECTOR, ".composer textarea").is_enabled(), "reopened: the visitor can write again")
avery.find_element(By.CSS_SELECTOR, "[data-action=archive]").click()
wait_for(lambda: text(avery, "#conversation-status") == "archived"
         and not any(f"Vera Visitor {RUN}" in b.text for b in css(avery, "#sessions [data-session]")),
         "Archive: the conversation leaves the Active list")
time.sleep(0.5)
check("rchived" not in text(visitor, ".conversation-status"),
      "archiving is Avery's own list: the visitor's chat does not say archived")
visitor.find_element(By.CSS_SELECTOR, ".composer textarea").send_keys(f"One more question {RUN}", Keys.ENTER)
wait_for(lambda: text(avery, "#conversation-status") == "active"
         and any(f"Vera Visitor {RUN}" in b.text for b in css(avery, "#sessions [data-session]")),
         "the visitor's new message makes it active again, live")

# ——— a reload whose stream is slow to start: the history is read once it is live ———
# The widget read an accepted chat's history as soon as the page loaded, while its stream was
# still authenticating: a message sent in between was in neither. The auth frame is held 3 s.
hold = visitor.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": """
    const send = WebSocket.prototype.send;
    WebSocket.prototype.send = function (data) {
      if (String(data).includes('"auth"')) setTimeout(() => send.call(this, data), 3000);
      else send.call(this, data);
    };"""})
visitor.execute_script("location.reload()")
visitor.switch_to.default_content()
visitor.switch_to.frame(wait_for(lambda: css(visitor, "#chat"), "the listing page still frames the widget")[0])
wait_for(lambda: f"One more question {RUN}" in text(visitor, ".messages"), "the reloaded widget shows the chat's history")
api("POST", f"/v1/sessions/{vera['id']}/messages", avery_token, {"clientMessageId": f"reload-{RUN}", "text": f"Between the reads {RUN}"})
wait_for(lambda: f"Between the reads {RUN}" in text(visitor, ".messages"),
         "a message sent once the history shows reaches a widget whose stream was slow to start")
visitor.execute_cdp_cmd("Page.removeScriptToEvaluateOnNewDocument", hold)

# ——— a listing shared on its own ———
avery.find_element(By.CSS_SELECTOR, ".composer .share-listing").click()
avery.find_element(By.CSS_SELECTOR, ".composer [data-field=ListingId]").send_keys(f"PIER{RUN}")
avery.find_element(By.CSS_SELECTOR, ".composer [data-field=address]").send_keys(f"7 Pier Rd {RUN}")
avery.find_element(By.CSS_SELECTOR, ".composer button[type=submit]").click()
wait_for(lambda: f"7 Pier Rd {RUN}" in text(visitor, ".messages .listing") and f"MLS# PIER{RUN}" in text(visitor, ".messages .listing"),
         "a listing Avery shares with no text reaches the visitor as a listing")
wait_for(lambda: css(avery, ".composer .listing-box[hidden]"), "the composer's listing fields close once it is sent")

# ——— the directory, across brokerages ———
hana = browser("hana")
hana.get(f"{BASE}/app/#token={hana_token}")
wait_for(lambda: "live" in text(hana, "#connection"), "Hana's inbox (harbor-homes) connects")
hana_pending = int(text(hana, "#request-count") or "0")
avery.find_element(By.CSS_SELECTOR, ".nav[data-view=directory]").click()
avery.find_element(By.CSS_SELECTOR, "#directory-form input[name=q]").send_keys("hana", Keys.ENTER)
card = wait_for(lambda: next((c for c in css(avery, "#directory .card") if "Hana Ito" in c.text), None),
                "Avery finds Hana of Harbor Homes in the directory")
check("Harbor Homes" in card.text, "the card names her brokerage")
shot(avery, "directory")
card.find_element(By.XPATH, ".//button[text()='Request Chat']").click()
card.find_element(By.CSS_SELECTOR, "textarea").send_keys(f"Co-op on 12 Oak St? {RUN}")
card.find_element(By.CSS_SELECTOR, "fieldset.property [data-field=ListingId]").send_keys(f"OAK{RUN}")
card.find_element(By.CSS_SELECTOR, "fieldset.property [data-field=address]").send_keys("12 Oak St, Unit 4")
card.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
wait_for(lambda: "Chat requested" in card.text, "Request Chat is sent")
wait_for(lambda: any("Hana Ito" in c.text and "pending" in c.text for c in css(avery, "#sent .card")), "it is listed among Avery's requests, pending")
wait_for(lambda: int(text(hana, "#request-count") or "0") == hana_pending + 1, "Hana's pending count goes up live")
hana.find_element(By.CSS_SELECTOR, ".nav[data-view=requests]").click()
# The list may be drawn again while it is read (a live event arrives): every step looks the
# card up afresh, inside wait_for, which retries an element that went stale.
def avery_request():
    return next((c for c in css(hana, "#requests .card") if f"12 Oak St? {RUN}" in c.text), None)


def accept_avery_request():
    card = avery_request()
    if card is None:
        return False
    card.find_element(By.XPATH, ".//button[text()='Accept']").click()
    return True


wait_for(avery_request, "Hana sees Avery's request")
wait_for(lambda: "Demo Brokerage" in getattr(avery_request(), "text", ""), "the request names Avery's brokerage")
wait_for(lambda: "Convert to CRM" in getattr(avery_request(), "text", ""), "an agent's request can be converted to a contact, as a visitor's")
wait_for(accept_avery_request, "Hana accepts it")
wait_for(lambda: f"12 Oak St? {RUN}" in text(hana, ".messages"), "accepting opens the agent-to-agent chat with the message")
check("12 Oak St, Unit 4" in text(hana, ".messages .listing") and f"MLS# OAK{RUN}" in text(hana, ".messages .listing"),
      "the property of interest Avery gave comes with it, as a listing")
check(not css(hana, "#conversation-kind")[0].get_attribute("hidden"), "the conversation shows the agent-to-agent badge")
avery.find_element(By.CSS_SELECTOR, ".nav[data-view=sessions]").click()
avery.find_element(By.CSS_SELECTOR, ".nav[data-view=directory]").click()
wait_for(lambda: any("Hana Ito" in c.text and "accepted" in c.text and "Open chat" in c.text for c in css(avery, "#sent .card")),
         "Avery's request shows accepted, with a way to the chat")
avery.find_element(By.CSS_SELECTOR, ".nav[data-view=sessions]").click()
wait_for(lambda: any("Hana Ito" in b.text and "Agent" in b.text for b in css(avery, "#sessions [data-session]")),
         "Avery's list gets the new agent-to-agent conversation live")
hana.find_element(By.CSS_SELECTOR, ".composer textarea").send_keys(f"Happy to, Avery {RUN}", Keys.ENTER)
open_session(avery, "Hana Ito", "Avery opens the conversation with Hana")
wait_for(lambda: f"Happy to, Avery {RUN}" in text(avery, ".messages"), "the two brokerages' agents chat")

# ——— the server restarts: pages resume their streams from their cursor ———
hana_session = api("GET", "/v1/sessions?status=active&kind=agent&limit=50", avery_token)["items"]
hana_session = next(x for x in hana_session if x["title"] == "Hana Ito" and x["lastMessage"]["preview"].startswith("Happy to"))
stop(server)
wait_for(lambda: "reconnecting" in text(avery, "#connection"), "the inbox notices the server is gone")
other, _ = serve(args.port + 1)  # another process, same database, while the pages cannot connect
api_base, BASE = BASE, f"http://127.0.0.1:{args.port + 1}"
api("POST", f"/v1/sessions/{hana_session['id']}/messages", avery_token, {"clientMessageId": f"gap-{RUN}", "text": f"Sent while you were away {RUN}"})
BASE = api_base
stop(other)
server, _ = serve(args.port)
wait_for(lambda: "live" in text(avery, "#connection") and "live" in text(hana, "#connection"), "both inboxes reconnect", timeout=30)
wait_for(lambda: f"Sent while you were away {RUN}" in text(hana, ".messages"),
         "Hana's open conversation gets the message sent while she was disconnected (resumed after her cursor)", timeout=20)
wait_for(lambda: f"Sent while you were away {RUN}" in text(avery, ".messages"), "so does Avery's")

# ——— tidying the list without opening a conversation ———
# Close, Archive and Reopen are on each row of the list ("From the session list, you can…"):
# opening a conversation to archive it would send read receipts for what was never read.
def jordan_unread():
    items = api("GET", "/v1/sessions?status=active&limit=100", avery_token)["items"] + \
        api("GET", "/v1/sessions?status=archived&limit=100", avery_token)["items"]
    return next(x["unreadCount"] for x in items if x["title"] == "Jordan Kim")


def row_action(title, action):
    row = next((r for r in css(avery, "#sessions li.session-row") if title in r.text), None)
    if row is None:
        return False
    row.find_element(By.CSS_SELECTOR, f"[data-row-action={action}]").click()
    return True


unread = jordan_unread()
avery.find_element(By.CSS_SELECTOR, ".nav[data-view=sessions]").click()
avery.find_element(By.CSS_SELECTOR, "[data-status=active]").click()
wait_for(lambda: row_action("Jordan Kim", "archive"), "Archive on Jordan's row in the Active list")
wait_for(lambda: not any("Jordan Kim" in r.text for r in css(avery, "#sessions li.session-row")), "archived from the list: it leaves Active")
avery.find_element(By.CSS_SELECTOR, "[data-status=archived]").click()
wait_for(lambda: row_action("Jordan Kim", "reopen"), "Reopen on its row in the Archived list")
wait_for(lambda: not any("Jordan Kim" in r.text for r in css(avery, "#sessions li.session-row")), "reopened from the list: it leaves Archived")
avery.find_element(By.CSS_SELECTOR, "[data-status=active]").click()
wait_for(lambda: any("Jordan Kim" in r.text for r in css(avery, "#sessions li.session-row")), "and is back in Active")
check(jordan_unread() == unread, f"nothing was marked read on the way ({unread} unread before and after)")
# A closed conversation can be archived too, to clean up the Closed list.
wait_for(lambda: row_action("Jordan Kim", "close"), "Close on Jordan's row")
avery.find_element(By.CSS_SELECTOR, "[data-status=closed]").click()
wait_for(lambda: row_action("Jordan Kim", "archive"), "Archive on Jordan's row in the Closed list")
wait_for(lambda: not any("Jordan Kim" in r.text for r in css(avery, "#sessions li.session-row")), "archived: it leaves Closed")
avery.find_element(By.CSS_SELECTOR, "[data-status=archived]").click()
wait_for(lambda: any("Jordan Kim" in r.text and not r.find_elements(By.CSS_SELECTOR, "[data-row-action=close]")
                     for r in css(avery, "#sessions li.session-row")), "in Archived, a closed one offers Reopen only")
wait_for(lambda: row_action("Jordan Kim", "reopen"), "Reopen brings it back")
avery.find_element(By.CSS_SELECTOR, "[data-status=active]").click()
wait_for(lambda: any("Jordan Kim" in r.text for r in css(avery, "#sessions li.session-row")), "active again")

# ——— keyboard and phone width ———
active_tab = avery.find_element(By.CSS_SELECTOR, "[data-status=active]")
active_tab.click()
active_tab.send_keys(Keys.ARROW_RIGHT)
wait_for(lambda: avery.switch_to.active_element.get_attribute("data-status") == "closed"
         and any("Sam Lee" in b.text for b in css(avery, "#sessions [data-session]")),
         "→ on the status tabs selects Closed (Sam Lee's closed conversation)")
avery.switch_to.active_element.send_keys(Keys.HOME)
wait_for(lambda: any("Maria" in b.text for b in css(avery, "#sessions [data-session]")), "Home goes back to Active")
open_session(avery, "Hana Ito", "Avery opens the conversation with Hana")
box = wait_for(lambda: css(avery, ".composer textarea"), "a conversation is open again")[0]
box.click()
box.send_keys(Keys.TAB)
check(avery.switch_to.active_element.text == "Send", "Tab from the message box reaches Send")
box.send_keys(Keys.ESCAPE)
wait_for(lambda: css(avery, "#conversation-header[hidden]"), "Esc closes the conversation")
phone = browser("phone", 390, 844)
phone.get(f"{BASE}/app/#token={avery_token}")
wait_for(lambda: len(css(phone, "#sessions [data-session]")) >= 3, "at phone width the list shows")
check(phone.execute_script("return document.documentElement.scrollWidth <= window.innerWidth + 1"), "nothing is wider than the phone")
css(phone, "#sessions [data-session]")[0].click()
wait_for(lambda: css(phone, ".messages .message") and not css(phone, "#list-pane")[0].is_displayed(),
         "opening a conversation shows it alone, with a way back")
shot(phone, "phone-conversation")

for name, driver in drivers.items():
    no_alert(driver, name)
    # Refused connections are expected while the server restarted (above); nothing else is.
    severe = [e for e in driver.get_log("browser") if e["level"] == "SEVERE" and "ERR_CONNECTION_REFUSED" not in e["message"]]
    check(not severe, f"{name}: no errors in the console{': ' + severe[0]['message'] if severe else ''}")
finish()
print("all browser checks passed")
