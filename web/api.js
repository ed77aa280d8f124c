// Parley's public API from a browser: REST calls with a bearer token, the live stream with
// its resume cursor, and DOM helpers that only ever make text nodes (server HTML goes in
// through `safeHTML`, for the fields the API documents as safe markup).

/** An RFC 9457 problem the API answered with. */
export class Problem extends Error {
  constructor(status, body) {
    super(body?.detail || body?.title || `HTTP ${status}`);
    this.status = status;
    this.code = body?.code || 'http_' + status;
    this.errors = body?.errors || [];
    this.retryAfter = null;
  }
}

export class API {
  constructor(token) {
    this.token = token;
  }

  headers(extra = {}) {
    const headers = { ...extra };
    if (this.token) headers.Authorization = 'Bearer ' + this.token;
    return headers;
  }

  async request(method, path, body) {
    const init = { method, headers: this.headers() };
    if (body instanceof FormData) {
      init.body = body;
    } else if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    const response = await fetch(path, init);
    const text = await response.text();
    let json = null;
    try { json = text ? JSON.parse(text) : null; } catch { json = null; }
    if (!response.ok) {
      const problem = new Problem(response.status, json);
      problem.retryAfter = response.headers.get('Retry-After');
      throw problem;
    }
    return json;
  }

  get(path) { return this.request('GET', path); }
  post(path, body) { return this.request('POST', path, body); }
  del(path) { return this.request('DELETE', path); }

  /** An attachment's bytes as a blob: URL (downloads need the token, which <img> cannot send). */
  async blobURL(path) {
    const response = await fetch(path, { headers: this.headers() });
    if (!response.ok) throw new Problem(response.status, null);
    return URL.createObjectURL(await response.blob());
  }
}

/**
 * One WebSocket to /v1/stream that reconnects with capped backoff and resumes after the last
 * event it processed, so nothing is missed across a reconnect. The token goes in the first
 * frame, never in the URL. `onHello(frame, resumed)` comes on every connect (`resumed`: it
 * continues after the last event, nothing was missed), `onEvent(frame)` gets every `event`
 * frame, `onTyping(frame)` typing frames, `onResync()` asks the app to reload its state
 * (`resync_required`, `replay_failed`), `onStatus(text)` reports the connection ('live',
 * 'offline', 'busy' for too many streams), `onEnded(code, reason)` a refusal of the token.
 */
export class LiveStream {
  constructor(token, handlers) {
    this.token = token;
    this.handlers = handlers;
    this.cursor = null;
    this.socket = null;
    this.backoff = 500;
    this.closed = false;
    this.pingTimer = null;
  }

  start() {
    if (this.closed) return;
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const query = this.cursor ? '?after=' + encodeURIComponent(this.cursor) : '';
    this.resuming = this.cursor !== null;
    const socket = new WebSocket(`${scheme}//${location.host}/v1/stream${query}`);
    this.socket = socket;
    socket.onopen = () => socket.send(JSON.stringify({ type: 'auth', token: this.token }));
    socket.onmessage = (message) => this.receive(message.data);
    socket.onclose = (close) => {
      clearInterval(this.pingTimer);
      if (this.socket !== socket) return;
      this.socket = null;
      // 4429: this user has too many streams open (other tabs): keep trying, slowly.
      this.status(close.code === 4429 ? 'busy' : 'offline');
      if (close.code === 4429) this.backoff = 10_000;
      if (this.closed || close.code === 4401 || close.code === 4403 || close.code === 4400) {
        this.handlers.onEnded?.(close.code, close.reason);
        return;
      }
      // 4008 (slow consumer) and 1001 carry the cursor to resume from; ours is the same or newer.
      setTimeout(() => this.start(), this.backoff);
      this.backoff = Math.min(this.backoff * 2, 10_000);
    };
  }

  receive(data) {
    let frame;
    try { frame = JSON.parse(data); } catch { return; }
    switch (frame.type) {
      case 'hello':
        this.backoff = 500;
        if (!this.cursor) this.cursor = frame.cursor;
        this.status('live');
        clearInterval(this.pingTimer);
        this.pingTimer = setInterval(() => this.send({ type: 'ping' }), 25_000);
        this.handlers.onHello?.(frame, this.resuming);
        break;
      case 'event':
        this.cursor = frame.id;
        this.handlers.onEvent?.(frame);
        break;
      case 'typing':
        this.handlers.onTyping?.(frame);
        break;
      case 'error':
        // Both mean events after our cursor were not replayed: the app reloads its state.
        if (frame.code === 'resync_required' || frame.code === 'replay_failed') this.handlers.onResync?.();
        break;
    }
  }

  send(frame) {
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(frame));
  }

  status(text) { this.handlers.onStatus?.(text); }

  stop() {
    this.closed = true;
    this.socket?.close(1000);
  }
}

/** h('div.card', {onclick}, 'text', child…): an element with text children only. */
export function h(tag, attributes = {}, ...children) {
  const [name, ...classes] = tag.split('.');
  const element = document.createElement(name);
  if (classes.length) element.className = classes.join(' ');
  for (const [key, value] of Object.entries(attributes || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on')) element.addEventListener(key.slice(2), value);
    else if (key === 'dataset') Object.assign(element.dataset, value);
    else element.setAttribute(key, value === true ? '' : value);
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

/**
 * Markup the server made safe: a message's `html` (only strong, em, a, ul, li, br; links with
 * rel=nofollow) or a search snippet's `html` (only mark). Parsed into an inert template, then
 * kept only if it has nothing but those tags — a second fence behind the server's escaping and
 * the page's Content-Security-Policy.
 */
const SAFE_TAGS = new Set(['STRONG', 'EM', 'A', 'UL', 'LI', 'BR', 'MARK']);
export function safeHTML(html) {
  const template = document.createElement('template');
  template.innerHTML = html;
  const walker = document.createTreeWalker(template.content, NodeFilter.SHOW_ELEMENT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const allowed = ['href', 'rel'];
    const href = node.getAttribute('href');
    if (!SAFE_TAGS.has(node.tagName) || [...node.attributes].some((a) => !allowed.includes(a.name))
        || (href !== null && !/^(https?:\/\/|mailto:)/i.test(href))) {
      const span = document.createElement('span');
      span.textContent = html;
      return span;
    }
    if (node.tagName === 'A') node.setAttribute('target', '_blank');
  }
  const span = document.createElement('span');
  span.append(template.content);
  return span;
}

export function formatTime(iso) {
  const date = new Date(iso);
  const now = new Date();
  const sameDay = date.toDateString() === now.toDateString();
  return sameDay
    ? date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })
    : date.toLocaleDateString([], { month: 'short', day: 'numeric' }) + ' '
      + date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

export function formatBytes(bytes) {
  if (bytes < 1024) return bytes + ' B';
  if (bytes < 1024 * 1024) return (bytes / 1024).toFixed(0) + ' KB';
  return (bytes / 1024 / 1024).toFixed(1).replace(/\.0$/, '') + ' MB';
}

export function price(value) {
  return typeof value === 'number'
    ? value.toLocaleString('en-US', { style: 'currency', currency: 'USD', maximumFractionDigits: 0 })
    : null;
}

/** A listing card (message listings, request properties). */
export function listingCard(listing) {
  const lines = [
    h('div.listing-title', {}, listing.address || listing.ListingId || listing.ListingKey),
    price(listing.listPrice) && h('div.listing-price', {}, price(listing.listPrice)),
    h('div.listing-id', {}, [listing.ListingId && 'MLS# ' + listing.ListingId, listing.OriginatingSystemName].filter(Boolean).join(' · ')),
  ];
  const url = listing.url && /^https:\/\//i.test(listing.url) ? listing.url : null;
  return h('div.listing', { 'aria-label': 'Listing' },
    h('span.listing-icon', { 'aria-hidden': 'true' }, '🏠'),
    h('div', {}, lines, url && h('a', { href: url, target: '_blank', rel: 'nofollow noopener noreferrer' }, 'View listing')));
}

/**
 * Inputs for a listing to share (its MLS number, address and link); `read()` is the listing
 * as the API takes it, or null while the MLS number is empty.
 */
export function listingFields() {
  const id = h('input', { 'aria-label': 'Listing MLS number', placeholder: 'MLS number', maxlength: 100, dataset: { field: 'ListingId' } });
  const address = h('input', { 'aria-label': 'Listing address', placeholder: 'Address (optional)', maxlength: 500, dataset: { field: 'address' } });
  const url = h('input', { type: 'url', 'aria-label': 'Listing link', placeholder: 'https://… (optional)', maxlength: 2000, dataset: { field: 'url' } });
  return {
    element: h('div.listing-fields', {}, id, address, url),
    focus: () => id.focus(),
    read() {
      if (!id.value.trim()) return null;
      const listing = {};
      for (const input of [id, address, url]) if (input.value.trim()) listing[input.dataset.field] = input.value.trim();
      return listing;
    },
    clear() { id.value = address.value = url.value = ''; },
  };
}

/** A text for a problem, with the field errors spelled out. */
export function problemText(error) {
  if (!(error instanceof Problem)) return String(error?.message || error);
  const fields = error.errors.map((e) => `${e.field}: ${e.message || e.code}`).join('; ');
  return fields ? `${error.message} (${fields})` : error.message;
}

export function uuid() {
  return crypto.randomUUID ? crypto.randomUUID()
    : 'xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx'.replace(/[xy]/g, (c) => {
      const r = crypto.getRandomValues(new Uint8Array(1))[0] % 16;
      return (c === 'x' ? r : (r & 3) | 8).toString(16);
    });
}
