// The website chat widget: /app/widget.html?brokerage=<slug>&agent=<agent id>
//   [&listingId=…&listingKey=…&address=…&price=…&url=…]  (the listing the page is about)
// A visitor fills the public form; once the agent accepts, the same page is the chat.
import { API, LiveStream, h, listingCard, problemText } from './api.js';
import { Conversation } from './conversation.js';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const brokerage = params.get('brokerage') || '';
const agent = params.get('agent') || '';
const storageKey = `parley.widget.${brokerage}.${agent}`;
const publicPath = `/v1/public/${encodeURIComponent(brokerage)}/chat-requests`;

/**
 * The listing the host page is about, from the widget's URL. Only what the API accepts (its
 * `Listing` rules) is kept: the visitor cannot fix a host page's bad parameter, and one the API
 * refused made every submission from that page fail — a relative or http `url`, a negative
 * price, an over-long id. What is dropped is only left off the card.
 */
function listingFromURL() {
  const text = (name, max) => {
    const value = (params.get(name) || '').trim();
    return value && [...value].length <= max && !/[\u0000-\u0009\u000b-\u001f]/.test(value) ? value : null;
  };
  const listing = {};
  const id = text('listingId', 64), key = text('listingKey', 128), address = text('address', 500);
  if (id) listing.ListingId = id;
  if (key) listing.ListingKey = key;
  if (!listing.ListingId && !listing.ListingKey) return null;
  if (address) listing.address = address;
  const price = Number(params.get('price'));
  if (params.get('price') && Number.isFinite(price) && price >= 0 && price <= 100_000_000_000) listing.listPrice = price;
  const url = params.get('url');
  if (url && url.length <= 2048) {
    try { if (new URL(url).protocol === 'https:') listing.url = url; } catch { /* not a URL: left off */ }
  }
  return listing;
}

const property = listingFromURL();
if (property) {
  $('about').hidden = false;
  $('about').append(h('p.muted', {}, 'About this home:'), listingCard(property));
}

function show(section) {
  for (const id of ['request-form', 'waiting', 'chat']) $(id).hidden = id !== section;
}

// The visitor's request and token, so a reload resumes the chat. Storage may be refused (a
// third-party iframe with storage blocked): then the chat lasts as long as the page.
function saved() {
  try { return JSON.parse(localStorage.getItem(storageKey) || 'null'); } catch { return null; }
}
function remember(request) {
  try { localStorage.setItem(storageKey, JSON.stringify(request)); } catch { /* this page only */ }
}
function forget() {
  try { localStorage.removeItem(storageKey); } catch { /* nothing kept */ }
}
// Inside a brokerage page's iframe, taking focus would scroll the host page to the widget.
const framed = window.top !== window;
function focus(element) { if (!framed) element.focus(); }

async function start() {
  if (!brokerage) {
    $('widget-intro').textContent = 'This widget needs ?brokerage=<slug> (and usually &agent=<agent id>) in its address.';
    return;
  }
  const request = saved();
  if (request) return follow(request);
  show('request-form');
  focus($('name'));
}

$('request-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  const body = {};
  for (const key of ['name', 'email', 'phone', 'message', 'preferredContactMethod', 'website']) {
    const value = String(form.get(key) ?? '').trim();
    if (value || key === 'website') body[key] = value;
  }
  if (agent) body.agentId = agent;
  if (property) body.property = property;
  for (const input of event.target.querySelectorAll('[aria-invalid]')) input.removeAttribute('aria-invalid');
  $('form-error').textContent = '';
  try {
    const submitted = await new API(null).post(publicPath, body);
    if (!submitted.visitorToken) {
      $('form-error').textContent = 'You already asked this agent; they will answer soon.';
      return;
    }
    const request = { id: submitted.id, token: submitted.visitorToken };
    remember(request);
    follow(request);
  } catch (error) {
    for (const field of error.errors || []) {
      const input = event.target.elements[field.field];
      if (input) input.setAttribute('aria-invalid', 'true');
    }
    $('form-error').textContent = error.status === 429
      ? `Too many requests from here; try again in ${error.retryAfter || 'a few'} seconds.`
      : problemText(error);
  }
});

/** The request is over (closed, declined, expired): say so, forget it, offer a new one. */
function ended(text) {
  forget();
  $('waiting-text').textContent = text;
  $('start-over').hidden = false;
}

$('start-over').addEventListener('click', () => {
  forget();
  location.reload();
});

/**
 * One stream for the page: while the request is pending its `session.updated` (and a 3 s poll)
 * tell of the agent's decision; once accepted it carries the chat. The chat's history is read
 * only once the stream is live (its first `hello`), so a message sent in between arrives as an
 * event: read before, with the stream still connecting, it was in neither (decision 0035). A
 * stream that is not live within 5 s (WebSockets blocked, or slow) is not waited for any
 * longer; if it comes live after the chat opened, the chat is read again from its start.
 */
async function follow(request) {
  const api = new API(request.token);
  show('waiting');
  let me;
  for (;;) {
    try {
      me = await api.get('/v1/me');
      break;
    } catch (error) {
      if (error.status === 401) return ended('This chat has ended.'); // token expired or request closed
      await new Promise((resolve) => setTimeout(resolve, 3000)); // offline or busy: try again
    }
  }
  const conversation = new Conversation(api, me, null);
  let chat = null;
  let settled = false; // the poll and the stream may both see the decision: act on it once
  // The poll does not wait for the stream: it is the way to learn of the decision when
  // WebSockets are blocked.
  const timer = setInterval(check, 3000);
  let live;
  let helloSeen = false;
  let readBeforeHello = null; // the chat's session id, when its history was read without the stream (the 5 s ran out)
  const connected = new Promise((resolve) => {
    live = resolve;
    setTimeout(resolve, 5000);
  });
  const stream = new LiveStream(request.token, {
    onHello: () => {
      // What came in between: read again (the open under way, if any, gives way to this one).
      if (!helloSeen && readBeforeHello && chat) chat.open(readBeforeHello);
      helloSeen = true;
      live();
    },
    onEvent: (frame) => {
      if (chat) {
        if ((frame.sessionId || frame.data?.sessionId) === chat.session.id) chat.onEvent(frame);
      } else if (frame.event === 'session.updated') {
        check();
      }
    },
    onTyping: (frame) => { if (chat && frame.sessionId === chat.session.id) chat.onTyping(frame); },
    onResync: () => { if (chat) chat.open(chat.session.id); },
    onEnded: () => { if (!settled) check(); },
  });

  async function check() {
    if (settled) return;
    let current;
    try {
      current = await api.get(`${publicPath}/${request.id}`);
    } catch (error) {
      if (error.status === 401 || error.status === 404) end('This chat has ended.');
      return;
    }
    if (settled) return;
    if (current.status === 'accepted' && current.sessionId) {
      settled = true;
      clearInterval(timer);
      await connected;
      chat = conversation;
      readBeforeHello = helloSeen ? null : current.sessionId;
      await openChat(chat, current.sessionId);
    } else if (current.status === 'declined' || current.status === 'expired') {
      end('The agent cannot chat right now; they have your details and will be in touch.');
    }
  }

  function end(text) {
    settled = true;
    clearInterval(timer);
    stream.stop();
    ended(text);
  }

  conversation.stream = stream;
  stream.start();
  check();
}

async function openChat(conversation, sessionId) {
  $('widget-intro').hidden = true;
  $('chat').replaceChildren(conversation.element);
  show('chat');
  const session = await conversation.open(sessionId);
  $('widget-title').textContent = 'Chat with ' + (session.title || 'your agent');
  document.addEventListener('visibilitychange', () => conversation.markRead());
  focus(conversation.text);
}

start();
