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

/** The listing the host page is about, from the widget's URL. */
function listingFromURL() {
  const listing = {};
  if (params.get('listingId')) listing.ListingId = params.get('listingId');
  if (params.get('listingKey')) listing.ListingKey = params.get('listingKey');
  if (!listing.ListingId && !listing.ListingKey) return null;
  if (params.get('address')) listing.address = params.get('address');
  const price = Number(params.get('price'));
  if (params.get('price') && Number.isFinite(price)) listing.listPrice = price;
  if (params.get('url')) listing.url = params.get('url');
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

function saved() {
  try { return JSON.parse(localStorage.getItem(storageKey) || 'null'); } catch { return null; }
}

async function start() {
  if (!brokerage) {
    $('widget-intro').textContent = 'This widget needs ?brokerage=<slug> (and usually &agent=<agent id>) in its address.';
    return;
  }
  const request = saved();
  if (request) return follow(request);
  show('request-form');
  $('name').focus();
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
    localStorage.setItem(storageKey, JSON.stringify(request));
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

$('start-over').addEventListener('click', () => {
  localStorage.removeItem(storageKey);
  location.reload();
});

/** Waits for the agent's decision (poll, and the stream's session.updated), then opens the chat. */
async function follow(request) {
  const api = new API(request.token);
  show('waiting');
  let stream = null;
  const check = async () => {
    let current;
    try {
      current = await api.get(`${publicPath}/${request.id}`);
    } catch (error) {
      if (error.status === 401 || error.status === 404) {
        localStorage.removeItem(storageKey);
        $('waiting-text').textContent = 'This chat has ended.';
        $('start-over').hidden = false;
        return true;
      }
      return false;
    }
    if (current.status === 'accepted' && current.sessionId) {
      stream?.stop();
      await openChat(api, request, current.sessionId);
      return true;
    }
    if (current.status === 'declined' || current.status === 'expired') {
      stream?.stop();
      localStorage.removeItem(storageKey);
      $('waiting-text').textContent = 'The agent cannot chat right now; they have your details and will be in touch.';
      $('start-over').hidden = false;
      return true;
    }
    return false;
  };
  if (await check()) return;
  stream = new LiveStream(request.token, {
    onEvent: async (frame) => { if (frame.event === 'session.updated') await check(); },
  });
  stream.start();
  const timer = setInterval(async () => { if (await check()) clearInterval(timer); }, 3000);
}

async function openChat(api, request, sessionId) {
  const me = await api.get('/v1/me');
  const session = await api.get(`/v1/sessions/${sessionId}`);
  const conversation = new Conversation(api, me, null);
  const stream = new LiveStream(request.token, {
    onEvent: (frame) => { if ((frame.sessionId || frame.data?.sessionId) === sessionId) conversation.onEvent(frame); },
    onTyping: (frame) => { if (frame.sessionId === sessionId) conversation.onTyping(frame); },
    onResync: () => conversation.open(session),
  });
  conversation.stream = stream;
  $('widget-title').textContent = 'Chat with ' + (session.title || 'your agent');
  $('widget-intro').hidden = true;
  $('chat').replaceChildren(conversation.element);
  show('chat');
  stream.start();
  await conversation.open(session);
  document.addEventListener('visibilitychange', () => conversation.markRead());
  conversation.text.focus();
}

start();
