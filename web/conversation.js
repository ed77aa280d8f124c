// One conversation: history with paging, live messages, ✓ / ✓✓, the typing indicator, and the
// message box with attachments. The inbox and the widget both use it.
import { h, safeHTML, formatTime, formatBytes, listingCard, listingFields, problemText, uuid } from './api.js';

const PAGE = 30;

export class Conversation {
  /**
   * @param api     the API with the user's token
   * @param me      GET /v1/me
   * @param stream  the LiveStream (typing frames go out on it)
   * @param hooks   { onSent(message), onRead(sessionId) }
   */
  constructor(api, me, stream, hooks = {}) {
    this.api = api;
    this.me = me;
    this.stream = stream;
    this.hooks = hooks;
    this.session = null;
    this.messages = new Map(); // id → { message, element }
    this.uploads = [];
    this.typingUntil = new Map(); // userId → { name, until }
    this.lastTypingSent = 0;
    this.drafts = new Map(); // session id → unsent text
    this.blobs = new Map(); // attachment id → blob: URL (fetched once, revoked on switching)
    this.sending = false;
    this.build();
  }

  build() {
    this.status = h('div.conversation-status', { role: 'status', 'aria-live': 'polite' });
    this.older = h('button.link.older', { type: 'button', onclick: () => this.loadOlder() }, 'Load older messages');
    this.list = h('ol.messages', { 'aria-label': 'Messages' });
    // New messages from others are announced here, one at a time (not the whole list).
    this.announcer = h('div.visually-hidden', { 'aria-live': 'polite' });
    this.scroller = h('div.scroller', {}, this.older, this.list);
    this.typing = h('div.typing', { 'aria-live': 'polite' });
    this.text = h('textarea', {
      rows: 2, placeholder: 'Write a message… (Enter sends, Shift+Enter for a new line)', 'aria-label': 'Message',
      maxlength: 10000, onkeydown: (e) => this.keydown(e), oninput: () => this.typed(),
    });
    this.fileInput = h('input.visually-hidden', {
      type: 'file', multiple: true, 'aria-label': 'Attach files', onchange: () => this.attach(),
      accept: '.jpg,.jpeg,.png,.gif,.webp,.pdf,.doc,.docx,.txt,.rtf',
    });
    this.chips = h('ul.chips', { 'aria-label': 'Files to send' });
    this.error = h('div.error', { role: 'alert' });
    const limits = this.me.limits;
    this.hint = h('div.hint', {},
      '**bold**, *italic*, [link](https://…), lines starting with "- " make a list',
      limits ? ` · up to ${limits.maxAttachmentsPerMessage} files of ${formatBytes(limits.maxAttachmentBytes)} each` : '');
    this.sendButton = h('button.primary', { type: 'submit' }, 'Send');
    const format = (label, title, before, after = before) => h('button.format', {
      type: 'button', title, 'aria-label': title, onclick: () => this.wrap(before, after),
    }, label);
    // A listing to share with the next message, or alone ("Share listings directly in chat").
    this.listingFields = listingFields();
    this.listingBox = h('div.listing-box', { hidden: true }, this.listingFields.element);
    this.toolbar = h('div.toolbar', { role: 'toolbar', 'aria-label': 'Formatting' },
      format('B', 'Bold', '**'), format('I', 'Italic', '*'), format('• List', 'Bulleted list', '- ', ''),
      format('Link', 'Link', '[', '](https://)'),
      h('button.format.share-listing', {
        type: 'button', title: 'Share a listing', 'aria-label': 'Share a listing',
        onclick: () => {
          this.listingBox.hidden = !this.listingBox.hidden;
          if (!this.listingBox.hidden) this.listingFields.focus();
        },
      }, '🏠 Listing'));
    this.form = h('form.composer', { onsubmit: (e) => { e.preventDefault(); this.send(); } },
      this.toolbar, this.listingBox, this.chips,
      h('div.composer-row', {},
        h('label.attach', { title: 'Attach files' }, h('span.visually-hidden', {}, 'Attach files'), this.fileInput),
        this.text, this.sendButton),
      this.hint, this.error);
    this.element = h('section.conversation', { 'aria-label': 'Conversation' }, this.status, this.scroller, this.typing, this.announcer, this.form);
    setInterval(() => this.renderTyping(), 1000);
  }

  /**
   * Shows a session: its id (fetched here) or the Session itself. Stream events for it that
   * arrive meanwhile are queued and applied after the history, so nothing between the two reads
   * is lost (a message twice is the same message; receipts only move forward).
   */
  async open(sessionOrId) {
    const queued = [];
    if (this.session) this.drafts.set(this.session.id, this.text.value);
    this.opening = queued;
    this.session = typeof sessionOrId === 'string' ? { id: sessionOrId, members: [], status: 'active' } : sessionOrId;
    this.text.value = this.drafts.get(this.session.id) ?? '';
    for (const url of this.blobs.values()) URL.revokeObjectURL(url);
    this.blobs.clear();
    this.nextBefore = null;
    this.older.hidden = true;
    this.messages.clear();
    this.list.replaceChildren();
    this.uploads = [];
    this.renderChips();
    this.typingUntil.clear();
    this.renderTyping();
    this.error.textContent = '';
    let session, page;
    try {
      session = typeof sessionOrId === 'string' ? await this.api.get(`/v1/sessions/${sessionOrId}`) : sessionOrId;
      page = await this.api.get(`/v1/sessions/${session.id}/messages?limit=${PAGE}`);
    } catch (error) {
      if (this.opening === queued) this.opening = null;
      throw error;
    }
    if (this.opening !== queued) return session; // another conversation was opened meanwhile
    this.session = session;
    this.readPositions = new Map(session.members.map((m) => [m.userId, m.lastReadSeq]));
    this.names = new Map(session.members.map((m) => [m.userId, m.name]));
    this.renderStatus();
    this.nextBefore = page.nextCursor;
    for (const message of page.items.reverse()) this.add(message);
    this.older.hidden = !this.nextBefore;
    this.opening = null;
    for (const frame of queued) this.onEvent(frame);
    this.scrollToEnd();
    this.markRead();
    return session;
  }

  renderStatus() {
    // `closed` is everyone's; `archived` is this agent's own list (an archived one may be closed too).
    const closed = this.session.closed ?? this.session.status === 'closed';
    const archived = this.session.status === 'archived';
    this.status.textContent = archived
      ? (closed ? 'Archived and closed: reopen it to write again.' : 'Archived: a new message makes it active again.')
      : closed ? 'This conversation is closed.' : '';
    this.text.disabled = closed;
    this.sendButton.disabled = closed;
    this.fileInput.disabled = closed;
  }

  async loadOlder() {
    if (!this.nextBefore || this.opening) return;
    const id = this.session.id;
    const top = this.list.firstChild;
    const page = await this.api.get(`/v1/sessions/${id}/messages?limit=${PAGE}&before=${this.nextBefore}`);
    if (this.session.id !== id || this.opening) return;
    this.nextBefore = page.nextCursor;
    for (const message of page.items) this.add(message, { prepend: true });
    this.older.hidden = !this.nextBefore;
    top?.scrollIntoView();
  }

  /** Adds or replaces a message; the list stays in seq order. */
  add(message, { prepend = false } = {}) {
    const known = this.messages.get(message.id);
    const element = this.render(message);
    if (known) {
      known.element.replaceWith(element);
    } else if (prepend) {
      this.list.prepend(element);
    } else {
      const after = [...this.list.children].reverse().find((li) => Number(li.dataset.seq) < message.seq);
      if (after) after.after(element); else this.list.prepend(element);
    }
    this.messages.set(message.id, { message, element });
  }

  mine(message) { return message.sender.userId === this.me.sub; }

  /** A member has read up to `seq` (a receipt, or their own message: sending reads). */
  readUpTo(userId, seq) {
    if (seq <= (this.readPositions.get(userId) ?? 0)) return;
    this.readPositions.set(userId, seq);
    if (userId === this.me.sub) return;
    for (const { message, element } of this.messages.values()) {
      if (!this.mine(message)) continue;
      const mark = element.querySelector('.delivery');
      const read = this.delivery(message) === 'read';
      if (mark && read !== mark.classList.contains('read')) mark.replaceWith(this.deliveryMark(read));
    }
  }

  deliveryMark(read) {
    const label = read ? 'Read' : 'Sent';
    return h(`span.delivery.${read ? 'read' : 'sent'}`, { title: label, 'aria-label': label }, read ? '✓✓' : '✓');
  }

  /** ✓✓ once every other member has read it. */
  delivery(message) {
    const others = [...this.readPositions].filter(([userId]) => userId !== this.me.sub);
    return others.length && others.every(([, seq]) => seq >= message.seq) ? 'read' : 'sent';
  }

  render(message) {
    const mine = this.mine(message);
    const body = h('div.body', {});
    if (message.html) body.append(safeHTML(message.html));
    const attachments = message.attachments.map((a) => this.renderAttachment(a));
    const delivery = mine ? this.delivery(message) : null;
    return h(`li.message${mine ? '.mine' : ''}`, { dataset: { seq: message.seq, id: message.id } },
      h('div.meta', {}, h('span.sender', {}, mine ? 'You' : message.sender.name), ' ',
        h('time', { datetime: message.createdAt }, formatTime(message.createdAt))),
      body,
      message.listing && listingCard(message.listing),
      attachments.length > 0 && h('div.attachments', {}, attachments),
      delivery && this.deliveryMark(delivery === 'read'));
  }

  renderAttachment(attachment) {
    const label = `${attachment.fileName} (${formatBytes(attachment.size)})`;
    if (attachment.mediaType.startsWith('image/')) {
      const img = h('img.preview', { alt: attachment.fileName, width: attachment.width, height: attachment.height });
      this.blob(attachment).then((url) => { img.src = url; img.dataset.url = url; }).catch(() => { img.alt = label + ' (unavailable)'; });
      return h('a.attachment.image', {
        href: '#', title: 'Open ' + label, onclick: (e) => { e.preventDefault(); if (img.dataset.url) this.view(attachment, img.dataset.url); },
      }, img);
    }
    return h('a.attachment.file', {
      href: '#', title: 'Download ' + attachment.fileName,
      onclick: async (e) => {
        e.preventDefault();
        const url = await this.blob(attachment);
        const a = h('a', { href: url, download: attachment.fileName });
        document.body.append(a); a.click(); a.remove();
      },
    }, '📄 ', label);
  }

  /** An attachment's bytes as a blob: URL, fetched once per conversation shown. */
  async blob(attachment) {
    const known = this.blobs.get(attachment.id);
    if (known) return known;
    const url = await this.api.blobURL(attachment.url);
    this.blobs.set(attachment.id, url);
    return url;
  }

  /** An image full size, in a modal dialog (Esc or the button closes it). */
  view(attachment, url) {
    const dialog = h('dialog.viewer', { 'aria-label': attachment.fileName },
      h('div.viewer-bar', {},
        h('span', {}, attachment.fileName),
        h('a', { href: url, download: attachment.fileName }, 'Download'),
        h('button', { type: 'button', onclick: () => dialog.close() }, 'Close')),
      h('img', { src: url, alt: attachment.fileName }));
    dialog.addEventListener('close', () => dialog.remove());
    document.body.append(dialog);
    dialog.showModal();
  }

  scrollToEnd() { this.scroller.scrollTop = this.scroller.scrollHeight; }

  /** On screen: in the page, not hidden (the phone layout hides the pane), the tab visible. */
  visible() { return this.element.isConnected && this.element.offsetParent !== null && document.visibilityState === 'visible'; }

  /** Read receipt up to the newest message shown, when the conversation is on screen. */
  async markRead() {
    if (!this.session || this.opening || !this.visible()) return;
    const last = Math.max(0, ...[...this.messages.values()].map((m) => m.message.seq));
    const before = this.readPositions.get(this.me.sub) ?? 0;
    if (last <= before) return;
    this.readPositions.set(this.me.sub, last);
    try {
      await this.api.post(`/v1/sessions/${this.session.id}/read`, { upTo: last });
      this.hooks.onRead?.(this.session.id);
    } catch {
      // Not recorded: the next message or a return to the tab tries again.
      if (this.readPositions.get(this.me.sub) === last) this.readPositions.set(this.me.sub, before);
    }
  }

  /** A stream event (only those of this session reach here). */
  onEvent(frame) {
    if (this.opening) { this.opening.push(frame); return; }
    const data = frame.data;
    switch (frame.event) {
      case 'message.created':
        if (!this.messages.has(data.id) && !this.mine(data)) this.announcer.textContent = `${data.sender.name}: ${data.text || 'sent a file'}`;
        this.add(data);
        this.readUpTo(data.sender.userId, data.seq);
        this.typingUntil.delete(data.sender.userId);
        this.renderTyping();
        this.scrollToEnd();
        this.markRead();
        break;
      case 'message.read':
        this.readUpTo(data.userId, data.lastReadSeq);
        break;
      case 'session.updated':
        this.session = { ...this.session, status: data.status, closed: data.closed, members: data.members };
        for (const m of data.members) {
          this.names.set(m.userId, m.name);
          if (typeof m.lastReadSeq === 'number') this.readUpTo(m.userId, m.lastReadSeq);
        }
        this.renderStatus();
        break;
    }
  }

  onTyping(frame) {
    if (frame.userId === this.me.sub) return;
    this.typingUntil.set(frame.userId, { name: frame.name || this.names.get(frame.userId) || 'Someone', until: Date.parse(frame.until) });
    this.renderTyping();
  }

  renderTyping() {
    const now = Date.now();
    const names = [...this.typingUntil.values()].filter((t) => t.until > now).map((t) => t.name);
    const text = names.length ? `${names.join(', ')} ${names.length > 1 ? 'are' : 'is'} typing…` : '';
    if (this.typing.textContent !== text) this.typing.textContent = text;
  }

  /** Wraps the selection (or the cursor) in a formatting marker; a list marker starts each line. */
  wrap(before, after) {
    const { selectionStart: start, selectionEnd: end, value } = this.text;
    let middle = value.slice(start, end);
    if (!after && before === '- ') middle = (middle || '').split('\n').map((line) => '- ' + line).join('\n') || '- ';
    else middle = before + middle + after;
    this.text.setRangeText(middle, start, end, 'end');
    if (start === end && after) this.text.setSelectionRange(start + before.length, start + before.length);
    this.text.focus();
  }

  keydown(event) {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      this.send();
    }
  }

  typed() {
    const now = Date.now();
    if (now - this.lastTypingSent < 2000 || !this.text.value) return;
    this.lastTypingSent = now;
    this.stream?.send({ type: 'typing', sessionId: this.session.id });
  }

  async attach() {
    const files = [...this.fileInput.files];
    this.fileInput.value = '';
    const limits = this.me.limits;
    this.error.textContent = '';
    if (limits && this.uploads.length + files.length > limits.maxAttachmentsPerMessage) {
      this.error.textContent = `At most ${limits.maxAttachmentsPerMessage} files per message.`;
      return;
    }
    const tooLarge = limits && files.find((f) => f.size > limits.maxAttachmentBytes);
    if (tooLarge) {
      this.error.textContent = `${tooLarge.name} is larger than ${formatBytes(limits.maxAttachmentBytes)}.`;
      return;
    }
    const form = new FormData();
    for (const file of files) form.append('file', file, file.name);
    const id = this.session.id;
    // Shown while it runs, and a send waits for it: sent meanwhile, the message went without
    // the file the person had just picked.
    const pending = files.map((file) => ({ fileName: file.name, size: file.size, pending: true }));
    this.uploads.push(...pending);
    this.renderChips();
    try {
      const uploaded = await this.api.post(`/v1/sessions/${id}/attachments`, form);
      // Another conversation opened meanwhile: the uploads belong to this one's session only
      // (unsent uploads are removed by the server after 24 hours).
      if (this.session.id !== id) return;
      this.uploads = this.uploads.filter((u) => !pending.includes(u)).concat(uploaded.items);
    } catch (error) {
      if (this.session.id === id) this.error.textContent = problemText(error);
      this.uploads = this.uploads.filter((u) => !pending.includes(u));
    }
    this.renderChips();
  }

  renderChips() {
    this.chips.replaceChildren(...this.uploads.map((upload) => upload.pending
      ? h('li.chip', {}, upload.fileName, ' ', h('span.size', {}, 'uploading…'))
      : h('li.chip', {},
      upload.fileName, ' ', h('span.size', {}, formatBytes(upload.size)),
      h('button.link', {
        type: 'button', 'aria-label': 'Remove ' + upload.fileName,
        onclick: () => {
          this.uploads = this.uploads.filter((u) => u !== upload);
          this.renderChips();
          // Removed on the server too, so its room in the upload quota comes back now (not
          // after the 24 hours an unsent upload is otherwise kept). Already gone is fine.
          this.api.del(`/v1/attachments/${upload.id}`).catch(() => {});
        },
      }, '✕'))));
  }

  async send() {
    if (this.sending || this.opening) return; // Enter again while a send is under way
    const text = this.text.value;
    const listing = this.listingBox.hidden ? null : this.listingFields.read();
    if (!text.trim() && !this.uploads.length && !listing) return;
    if (this.uploads.some((u) => u.pending)) {
      this.error.textContent = 'Wait for the files to finish uploading.';
      return;
    }
    const id = this.session.id;
    const sent = this.uploads.slice();
    const attachmentIds = sent.map((u) => u.id);
    // One key per draft: sending the same draft again (after a failure) cannot make a second
    // message; a changed draft gets a new key.
    const signature = JSON.stringify([id, text, attachmentIds, listing]);
    if (this.draftKey?.signature !== signature) this.draftKey = { signature, key: uuid() };
    const body = { clientMessageId: this.draftKey.key, text };
    if (attachmentIds.length) body.attachmentIds = attachmentIds;
    if (listing) body.listing = listing;
    this.sending = true;
    this.sendButton.disabled = true;
    this.error.textContent = '';
    try {
      let message;
      try {
        message = await this.api.post(`/v1/sessions/${id}/messages`, body);
      } catch (error) {
        // A network failure may hide a stored send: the same clientMessageId makes the retry safe.
        if (error instanceof TypeError) message = await this.api.post(`/v1/sessions/${id}/messages`, body);
        else throw error;
      }
      this.draftKey = null;
      this.drafts.delete(id);
      if (this.session.id !== id) return; // sent; the other conversation is on screen now
      // What was sent goes; what was typed or attached while it was sending stays.
      if (this.text.value === text) this.text.value = '';
      this.uploads = this.uploads.filter((u) => !sent.includes(u));
      this.renderChips();
      if (listing && JSON.stringify(this.listingFields.read()) === JSON.stringify(listing)) {
        this.listingFields.clear();
        this.listingBox.hidden = true;
      }
      this.readUpTo(this.me.sub, message.seq);
      this.add(message);
      this.scrollToEnd();
      this.hooks.onSent?.(message);
    } catch (error) {
      if (this.session.id === id) this.error.textContent = problemText(error);
    } finally {
      this.sending = false;
      this.sendButton.disabled = this.session.closed ?? this.session.status === 'closed';
      if (this.session.id === id) this.text.focus();
    }
  }
}
