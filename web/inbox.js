// The agent inbox: sessions, a conversation, search, chat requests and the agent directory,
// all from the public API and kept live by one /v1/stream.
import { API, LiveStream, h, safeHTML, formatTime, listingCard, listingFields, problemText } from './api.js';
import { Conversation } from './conversation.js';

const $ = (id) => document.getElementById(id);
const TOKEN_KEY = 'parley.token';

const state = {
  api: null, me: null, stream: null, conversation: null,
  view: 'sessions', status: 'active', sessionsAfter: null, requestStatus: 'pending',
  openSession: null, query: '',
};

/** The token: from the demo link's fragment (then removed from the address bar), or this tab's storage. */
function takeToken() {
  const fragment = new URLSearchParams(location.hash.slice(1));
  const token = fragment.get('token');
  if (token) {
    sessionStorage.setItem(TOKEN_KEY, token);
    history.replaceState(null, '', location.pathname + location.search);
  }
  return sessionStorage.getItem(TOKEN_KEY);
}

function showSignIn(message) {
  $('app').hidden = true;
  $('sign-in').hidden = false;
  $('sign-in-error').textContent = message || '';
  $('token').focus();
}

$('sign-in-form').addEventListener('submit', (event) => {
  event.preventDefault();
  sessionStorage.setItem(TOKEN_KEY, $('token').value.trim());
  location.reload(); // a fresh page: nothing of a previous sign-in stays
});

$('sign-out').addEventListener('click', () => {
  sessionStorage.removeItem(TOKEN_KEY);
  state.stream?.stop();
  location.reload();
});

async function start() {
  const token = takeToken();
  if (!token) return showSignIn();
  state.api = new API(token);
  try {
    state.me = await state.api.get('/v1/me');
  } catch (error) {
    sessionStorage.removeItem(TOKEN_KEY);
    return showSignIn(problemText(error));
  }
  const me = state.me;
  $('sign-in').hidden = true;
  $('app').hidden = false;
  $('sign-out').hidden = false;
  $('search-form').hidden = false;
  $('brokerage').textContent = me.tenantName;
  $('me').textContent = me.name;
  document.body.classList.toggle('client', me.role !== 'agent');
  let loaded = false;
  state.stream = new LiveStream(token, {
    // State is read over REST once the stream is live: whatever changes after that arrives as
    // events (on a reconnect, replayed from the cursor), so nothing falls between the two.
    onHello: (_, resumed) => { if (!resumed) { loaded = true; refreshAll(); } },
    onEvent, onTyping: (frame) => { if (frame.sessionId === state.openSession?.id) state.conversation.onTyping(frame); },
    onResync: () => refreshAll(),
    onStatus: (status) => {
      $('connection').textContent = { live: '● live', busy: '○ too many open tabs; retrying' }[status] ?? '○ reconnecting…';
      $('connection').className = 'connection ' + status;
      // No stream at all (WebSockets blocked, the server busy): show the state anyway.
      if (status !== 'live' && !loaded) { loaded = true; refreshAll(); }
    },
    onEnded: (code, reason) => {
      sessionStorage.removeItem(TOKEN_KEY);
      showSignIn(`The stream ended (${reason || code}): sign in again.`);
    },
  });
  // The badge follows badge.updated events (the last one equals GET /v1/badge).
  state.conversation = new Conversation(state.api, me, state.stream, { onSent: () => refreshSessionsSoon() });
  $('conversation-slot').append(state.conversation.element);
  state.conversation.element.hidden = true;
  state.stream.start();
}

function refreshAll() {
  refreshBadge();
  refreshSessions();
  if (state.me.role === 'agent') refreshRequests();
  if (state.openSession) openSession(state.openSession.id);
}

// ——— badge ———

async function refreshBadge() {
  try { showBadge(await state.api.get('/v1/badge')); } catch { /* shown on the next event */ }
}

function showBadge(badge) {
  $('badge-total').textContent = badge.total;
  $('unread-count').textContent = badge.unreadMessages || '';
  $('request-count').textContent = badge.pendingRequests || '';
  document.title = badge.total ? `(${badge.total}) Parley inbox` : 'Parley inbox';
}

// ——— live events ———

let sessionsTimer = null;
function refreshSessionsSoon() {
  clearTimeout(sessionsTimer);
  sessionsTimer = setTimeout(refreshSessions, 150);
}

function onEvent(frame) {
  const sessionId = frame.sessionId || frame.data?.sessionId;
  switch (frame.event) {
    case 'badge.updated':
      showBadge(frame.data);
      return;
    case 'request.created':
    case 'request.updated':
      if (frame.data.direction === 'incoming') refreshRequests();
      else if (state.view === 'directory') refreshSent();
      if (frame.data.status === 'accepted') refreshSessionsSoon();
      return;
  }
  if (sessionId && sessionId === state.openSession?.id) {
    state.conversation.onEvent(frame);
    if (frame.event === 'session.updated' && !state.conversation.opening) showSessionHeader({ ...state.openSession, status: frame.data.status, closed: frame.data.closed });
  }
  refreshSessionsSoon();
}

// ——— views ———

function showView(view) {
  state.view = view;
  for (const button of document.querySelectorAll('.nav')) {
    button.toggleAttribute('aria-current', button.dataset.view === view);
    if (button.dataset.view === view) button.setAttribute('aria-current', 'page');
  }
  $('sessions-view').hidden = view !== 'sessions';
  $('requests-view').hidden = view !== 'requests';
  $('directory-view').hidden = view !== 'directory';
  $('search-view').hidden = view !== 'search';
  document.body.classList.remove('reading');
  if (view === 'requests') refreshRequests();
  if (view === 'directory') {
    $('directory-form').q.focus();
    refreshSent();
  }
}

for (const button of document.querySelectorAll('.nav')) {
  button.addEventListener('click', () => showView(button.dataset.view));
}

// ——— sessions ———

/**
 * A tab list (WAI-ARIA tabs): click or Enter selects; ← / → (Home / End) move between the tabs and
 * select; only the selected tab is in the Tab order.
 */
function tabs(selector, select) {
  const all = [...document.querySelectorAll(selector)];
  const choose = (tab) => {
    for (const other of all) {
      other.setAttribute('aria-selected', String(other === tab));
      other.tabIndex = other === tab ? 0 : -1;
    }
    select(tab);
  };
  all.forEach((tab, index) => {
    tab.tabIndex = tab.getAttribute('aria-selected') === 'true' ? 0 : -1;
    tab.addEventListener('click', () => choose(tab));
    tab.addEventListener('keydown', (event) => {
      const to = { ArrowRight: index + 1, ArrowLeft: index - 1, Home: 0, End: all.length - 1 }[event.key];
      if (to === undefined) return;
      event.preventDefault();
      const next = all[(to + all.length) % all.length];
      next.focus();
      choose(next);
    });
  });
}

tabs('[data-status]', (tab) => {
  state.status = tab.dataset.status;
  refreshSessions();
});

let sessionsRequest = 0;
async function refreshSessions() {
  const request = ++sessionsRequest;
  const status = state.status;
  // As many rows as are shown (after "More"), up to the API's page limit.
  const shown = document.querySelectorAll('#sessions [data-session]').length;
  try {
    const page = await state.api.get(`/v1/sessions?status=${status}&limit=${Math.min(100, Math.max(50, shown))}`);
    if (request !== sessionsRequest) return; // a newer refresh (or another tab) answered meanwhile
    $('sessions').replaceChildren(...page.items.map(sessionItem));
    if (!page.items.length) $('sessions').append(h('li.empty', {}, `No ${status} conversations.`));
    state.sessionsAfter = page.nextCursor;
    $('more-sessions').hidden = !page.nextCursor;
  } catch (error) {
    if (request === sessionsRequest) $('sessions').replaceChildren(h('li.error', {}, problemText(error)));
  }
}

$('more-sessions').addEventListener('click', async () => {
  const page = await state.api.get(`/v1/sessions?status=${state.status}&limit=50&after=${encodeURIComponent(state.sessionsAfter)}`);
  $('sessions').append(...page.items.map(sessionItem));
  state.sessionsAfter = page.nextCursor;
  $('more-sessions').hidden = !page.nextCursor;
});

// What each status allows, from the list and from the open conversation's header.
// Archiving is the agent's own list (a closed conversation can be archived too); closing and
// reopening are everyone's.
const sessionActions = (session) => ({
  active: ['close', 'archive'], closed: ['reopen', 'archive'], archived: session.closed ? ['reopen'] : ['close', 'reopen'],
})[session.status] || [];
const actionNames = { close: 'Close', archive: 'Archive', reopen: 'Reopen' };

function sessionItem(session) {
  const unread = session.unreadCount > 0;
  const title = session.title || 'Conversation';
  // Close, Archive and Reopen right from the list: no need to open a conversation (which
  // would mark its messages read) to tidy the list.
  const actions = h('span.row-actions', {}, sessionActions(session).map((action) =>
    h('button.row-action', {
      type: 'button', dataset: { rowAction: action }, 'aria-label': `${actionNames[action]} ${title}`,
      onclick: () => sessionAction(session.id, action).catch((error) => {
        actions.replaceChildren(h('span.error', { role: 'alert' }, problemText(error)));
      }),
    }, actionNames[action])));
  return h('li.session-row', {},
    h(`button.item${unread ? '.unread' : ''}${session.id === state.openSession?.id ? '.selected' : ''}`, {
      type: 'button', dataset: { session: session.id }, onclick: () => openSession(session.id),
    },
    h('span.item-top', {},
      h('span.item-title', {}, session.title || 'Conversation'),
      session.agentToAgent && h('span.pill.a2a', { title: 'Agent to agent' }, 'Agent'),
      h('time.item-time', { datetime: session.lastActivityAt }, formatTime(session.lastActivityAt))),
    h('span.item-bottom', {},
      h('span.preview', {}, session.lastMessage?.preview ?? 'No messages yet'),
      unread && h('span.count', { 'aria-label': `${session.unreadCount} unread` }, session.unreadCount))),
    actions);
}

/** Closes, archives or reopens a session (the list's or the header's buttons). */
async function sessionAction(id, action) {
  const session = await state.api.post(`/v1/sessions/${id}/${action}`);
  if (state.openSession?.id === id) {
    showSessionHeader(session);
    state.conversation.onEvent({ event: 'session.updated', data: { status: session.status, closed: session.closed, members: session.members } });
  }
  refreshSessions();
  return session;
}

async function openSession(id) {
  // Events of this session are routed to the conversation from now on; it queues them until
  // its history is loaded.
  state.openSession = { id, title: '', status: 'active', agentToAgent: false };
  $('empty').hidden = true;
  state.conversation.element.hidden = false;
  document.body.classList.add('reading');
  for (const item of document.querySelectorAll('[data-session]')) item.classList.toggle('selected', item.dataset.session === id);
  try {
    const session = await state.conversation.open(id);
    if (state.openSession?.id !== id) return;
    showSessionHeader(session);
    state.conversation.text.focus();
  } catch (error) {
    $('empty').hidden = false;
    $('empty').textContent = problemText(error);
  }
}

function showSessionHeader(session) {
  state.openSession = session;
  $('conversation-header').hidden = false;
  $('conversation-title').textContent = session.title || 'Conversation';
  $('conversation-kind').hidden = !session.agentToAgent;
  $('conversation-status').textContent = session.status;
  const allowed = sessionActions(session);
  for (const button of document.querySelectorAll('[data-action]')) button.hidden = !allowed.includes(button.dataset.action);
}

for (const button of document.querySelectorAll('[data-action]')) {
  button.addEventListener('click', async () => {
    const id = state.openSession?.id;
    if (!id) return;
    try {
      await sessionAction(id, button.dataset.action);
    } catch (error) {
      state.conversation.error.textContent = problemText(error);
    }
  });
}

function closeConversation() {
  const id = state.openSession?.id;
  document.body.classList.remove('reading');
  state.openSession = null;
  // Focus back where the reader was: the conversation's row in the list.
  setTimeout(() => document.querySelector(`[data-session="${id}"]`)?.focus());
  $('conversation-header').hidden = true;
  state.conversation.element.hidden = true;
  $('empty').hidden = false;
  $('empty').textContent = 'Choose a conversation.';
}

$('back').addEventListener('click', closeConversation);

document.addEventListener('keydown', (event) => {
  if (event.key !== 'Escape') return;
  if (document.querySelector('dialog[open]')) return; // the dialog closes itself
  const open = [...document.querySelectorAll('.inline-form:not([hidden])')].find((form) => form.offsetParent !== null);
  if (open) { open.hidden = true; return; }
  if (state.view === 'search') { clearSearch(); return; }
  if (state.openSession) closeConversation();
});

document.addEventListener('visibilitychange', () => state.conversation?.markRead());

// ——— search ———

$('search-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const q = $('search').value.trim();
  if (!q) return clearSearch();
  showView('search');
  try {
    const page = await state.api.get(`/v1/search?q=${encodeURIComponent(q)}&limit=20`);
    $('search-results').replaceChildren(...page.items.map(searchItem));
    if (!page.items.length) $('search-results').append(h('li.empty', {}, `Nothing found for “${q}”.`));
    state.search = { q, after: page.nextCursor };
    $('more-results').hidden = !page.nextCursor;
  } catch (error) {
    $('search-results').replaceChildren(h('li.error', {}, problemText(error)));
    $('more-results').hidden = true;
  }
});

$('more-results').addEventListener('click', async () => {
  const { q, after } = state.search ?? {};
  if (!after) return;
  try {
    const page = await state.api.get(`/v1/search?q=${encodeURIComponent(q)}&limit=20&after=${encodeURIComponent(after)}`);
    if (state.search?.q !== q) return; // another search started meanwhile
    $('search-results').append(...page.items.map(searchItem));
    state.search.after = page.nextCursor;
    $('more-results').hidden = !page.nextCursor;
  } catch (error) {
    $('search-results').append(h('li.error', {}, problemText(error)));
  }
});

function searchItem(result) {
  const session = result.session;
  return h('li', {},
    h('button.item.result', { type: 'button', onclick: () => openSession(session.id) },
      h('span.item-top', {},
        h('span.item-title', {}, session.title),
        session.agentToAgent && h('span.pill.a2a', { title: 'Agent to agent' }, 'Agent'),
        h('span.pill', {}, session.status),
        h('span.muted', {}, result.matchedBy.includes('content') ? `${result.matchCount} matching message${result.matchCount === 1 ? '' : 's'}` : 'name matches')),
      result.snippets.map((snippet) => h('span.snippet', {}, safeHTML(snippet.html)))));
}

function clearSearch() {
  $('search').value = '';
  showView('sessions');
}
$('clear-search').addEventListener('click', clearSearch);

// ——— chat requests ———

tabs('[data-request-status]', (tab) => {
  state.requestStatus = tab.dataset.requestStatus;
  refreshRequests();
});

let requestsAsked = 0;

async function refreshRequests() {
  // Refreshes overlap (a live request event while the tab opens): only the newest one's answer
  // is shown, never an older one after it.
  const asked = ++requestsAsked;
  try {
    const status = state.requestStatus ? `status=${state.requestStatus}&` : '';
    const page = await state.api.get(`/v1/chat-requests?${status}limit=50`);
    if (asked !== requestsAsked) return;
    // A card whose request did not change is kept as it is: a decline note being typed in it
    // survives another visitor's request arriving.
    const kept = new Map([...$('requests').children].filter((card) => card.requestJSON).map((card) => [card.requestJSON, card]));
    $('requests').replaceChildren(...page.items.map((request) => kept.get(JSON.stringify(request)) ?? requestCard(request)));
    if (!page.items.length) $('requests').append(h('li.empty', {}, 'No chat requests.'));
  } catch (error) {
    if (asked === requestsAsked) $('requests').replaceChildren(h('li.error', {}, problemText(error)));
  }
}

/**
 * A hidden form with one text box under a card (decline notes, a Request Chat message): the
 * card's button toggles it, Esc hides it; `submit(text)` runs on send, its error shows below.
 */
function inlineForm({ label, maxlength, button, primary = false, error, submit, extra = null }) {
  const text = h('textarea', { rows: 2, maxlength, 'aria-label': label, placeholder: label });
  const form = h('form.inline-form', {
    hidden: true,
    onsubmit: async (event) => {
      event.preventDefault();
      try { await submit(text.value.trim(), form); } catch (e) { error.textContent = problemText(e); }
    },
  }, text, extra, h(primary ? 'button.primary' : 'button', { type: 'submit' }, button));
  form.toggle = () => { form.hidden = !form.hidden; if (!form.hidden) text.focus(); };
  return form;
}

function requestCard(request) {
  const error = h('div.error', { role: 'alert' });
  const declineForm = inlineForm({
    label: 'Notes (only you see them)', maxlength: 2000, button: 'Decline request', error,
    submit: async (notes) => {
      await state.api.post(`/v1/chat-requests/${request.id}/decline`, notes ? { notes } : {});
      refreshRequests();
    },
  });
  const from = request.source === 'agent' && request.requester
    ? `Agent · ${request.requester.brokerage?.name ?? ''}` : 'Website';
  const pending = request.status === 'pending';
  const card = h('li.card', { dataset: { request: request.id } },
    h('div.item-top', {},
      h('strong', {}, request.name),
      h('span.pill', {}, from),
      h('span.pill.status', {}, request.status),
      h('time.item-time', { datetime: request.createdAt }, formatTime(request.createdAt))),
    // An agent's request carries their public profile, whose contact points they chose to show.
    h('div.contact-line', {}, [request.email ?? request.requester?.MemberEmail, request.phone ?? request.requester?.MemberMobilePhone,
      `prefers ${request.preferredContactMethod}`].filter(Boolean).join(' · ')),
    request.message && h('p.request-message', {}, request.message),
    request.property && listingCard(request.property),
    request.declineNotes && h('p.muted', {}, 'Your notes: ', request.declineNotes),
    h('div.actions', {},
      pending && h('button.primary', {
        type: 'button',
        onclick: async () => {
          try {
            const accepted = await state.api.post(`/v1/chat-requests/${request.id}/accept`);
            await refreshRequests();
            showView('sessions');
            refreshSessions();
            openSession(accepted.session.id);
          } catch (e) { error.textContent = problemText(e); }
        },
      }, 'Accept'),
      pending && h('button', { type: 'button', onclick: () => declineForm.toggle() }, 'Decline…'),
      // "Convert to CRM … even if you decline": for an agent's request too ("just like client requests").
      h('button', {
        type: 'button',
        onclick: async (event) => {
          try {
            const contact = await state.api.post(`/v1/chat-requests/${request.id}/convert-to-crm`);
            event.target.replaceWith(h('span.done', {}, `In your contacts: ${contact.FullName ?? contact.FirstName ?? request.name}`));
          } catch (e) { error.textContent = problemText(e); }
        },
      }, request.contactId ? 'In your contacts ✓' : 'Convert to CRM'),
      request.sessionId && h('button', { type: 'button', onclick: () => { showView('sessions'); openSession(request.sessionId); } }, 'Open chat')),
    declineForm, error);
  card.requestJSON = JSON.stringify(request);
  return card;
}

// ——— directory ———

/** The caller's own Request Chat requests: whom, when, and what became of them. */
async function refreshSent() {
  try {
    const page = await state.api.get('/v1/chat-requests/sent?limit=20');
    $('sent').replaceChildren(...page.items.map((sent) => {
      const to = sent.to.MemberFullName || sent.to.MemberKey;
      return h('li.card', { dataset: { sent: sent.id } },
        h('div.item-top', {},
          h('strong', {}, to), h('span.pill', {}, sent.to.brokerage.name), h('span.pill.status', {}, sent.status),
          h('time.item-time', { datetime: sent.createdAt }, formatTime(sent.createdAt))),
        sent.message && h('p.request-message', {}, sent.message),
        sent.sessionId && h('div.actions', {},
          h('button', { type: 'button', onclick: () => { showView('sessions'); openSession(sent.sessionId); } }, 'Open chat')));
    }));
    if (!page.items.length) $('sent').append(h('li.empty', {}, 'None yet: find an agent above and use Request Chat.'));
  } catch (error) {
    $('sent').replaceChildren(h('li.error', {}, problemText(error)));
  }
}

$('directory-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  const params = new URLSearchParams();
  for (const [key, value] of form) if (String(value).trim()) params.set(key, String(value).trim());
  params.set('limit', '50');
  try {
    const page = await state.api.get('/v1/directory?' + params);
    $('directory').replaceChildren(...page.items.map(agentCard));
    if (!page.items.length) $('directory').append(h('li.empty', {}, 'No listed agent matches.'));
  } catch (error) {
    $('directory').replaceChildren(h('li.error', {}, problemText(error)));
  }
});

function agentCard(agent) {
  const self = agent.brokerage.slug === state.me.tenant && agent.MemberKey === state.me.sub;
  const error = h('div.error', { role: 'alert' });
  // "A property of interest if it's about a specific listing."
  const property = listingFields();
  const form = inlineForm({
    label: 'Why you want to connect', maxlength: 5000, button: 'Send request', primary: true, error,
    extra: h('fieldset.property', {}, h('legend', {}, 'Property of interest (optional)'), property.element),
    submit: async (message, sentForm) => {
      const body = { brokerage: agent.brokerage.slug, memberKey: agent.MemberKey, message };
      const listing = property.read();
      if (listing) body.property = listing;
      const sent = await state.api.post('/v1/chat-requests', body);
      sentForm.replaceWith(h('p.done', {}, `Chat requested (${sent.status}).`));
      refreshSent();
    },
  });
  const name = agent.MemberFullName || [agent.MemberFirstName, agent.MemberLastName].filter(Boolean).join(' ') || agent.MemberKey;
  const details = [agent.MemberCity, (agent.MemberLanguages || []).join(', '), (agent.MemberDesignation || []).join(', ')].filter(Boolean).join(' · ');
  return h('li.card', { dataset: { member: agent.MemberKey, brokerage: agent.brokerage.slug } },
    h('div.item-top', {}, h('strong', {}, name), h('span.pill', {}, agent.brokerage.name)),
    details && h('div.contact-line', {}, details),
    agent.MemberBio && h('p', {}, agent.MemberBio),
    [agent.MemberEmail, agent.MemberMobilePhone].filter(Boolean).length ? h('div.contact-line', {}, [agent.MemberEmail, agent.MemberMobilePhone].filter(Boolean).join(' · ')) : null,
    !self && h('div.actions', {}, h('button', { type: 'button', onclick: () => form.toggle() }, 'Request Chat')),
    form, error);
}

start();
