// Pupero: what JavaScript adds to pages that work without it. Countdowns tick from the seconds
// the server computed (a client's clock is never trusted), copy buttons appear, times are shown
// in the reader's own time zone as well as in UTC, and the page's live regions are fetched again
// when the server says that what they show changed.

const lang = document.documentElement.lang || undefined;
const seen = new WeakMap();

function tick() {
  const now = performance.now();
  for (const el of document.querySelectorAll('[data-countdown]')) {
    if (!seen.has(el)) seen.set(el, now);
    const elapsed = Math.floor((now - seen.get(el)) / 1000);
    const left = Math.max(0, Number(el.dataset.countdown) - elapsed);
    const h = Math.floor(left / 3600), m = Math.floor((left % 3600) / 60), s = left % 60;
    const two = (n) => String(n).padStart(2, '0');
    el.textContent = h > 0 ? `${h}:${two(m)}:${two(s)}` : `${m}:${two(s)}`;
  }
}

function enhance(root) {
  for (const button of root.querySelectorAll('button[data-copy]')) {
    const target = document.getElementById(button.dataset.copy);
    if (!target || !navigator.clipboard) continue;
    button.hidden = false;
    button.addEventListener('click', async () => {
      const text = target.dataset.value || target.textContent.trim();
      try {
        await navigator.clipboard.writeText(text);
        button.setAttribute('aria-pressed', 'true');
      } catch {
        button.setAttribute('aria-pressed', 'false');
      }
    });
  }
  for (const el of root.querySelectorAll('time[datetime]')) {
    const when = new Date(el.getAttribute('datetime'));
    if (Number.isNaN(when.getTime())) continue;
    el.title = el.textContent;
    el.textContent = when.toLocaleString(lang, { dateStyle: 'medium', timeStyle: 'short' });
  }
}

enhance(document);
if (document.querySelector('[data-countdown]')) setInterval(tick, 1000);

// Live regions: `data-live="trade"` (with `data-trade`, the trade's id) or `data-live="wallet"`.
// One fetch of the page replaces them all; a change arriving meanwhile fetches once more after.
const regions = () => [...document.querySelectorAll('[data-live][id]')];
let fetching = null, again = false;

async function refresh() {
  if (fetching) { again = true; return; }
  fetching = fetch(location.href, { credentials: 'same-origin', headers: { Accept: 'text/html' } })
    .then((r) => (r.ok && !r.redirected ? r.text() : null))
    .then((html) => {
      if (html === null) return;
      const fresh = new DOMParser().parseFromString(html, 'text/html');
      for (const region of regions()) {
        const next = fresh.getElementById(region.id);
        if (!next) continue;
        region.replaceWith(document.adoptNode(next));
        enhance(next);
      }
      tick();
    })
    .catch(() => {})
    .finally(() => {
      fetching = null;
      if (again) { again = false; refresh(); }
    });
}

if (regions().length && window.EventSource) {
  const shows = (kind, id) => regions().some((r) => r.dataset.live === kind
    && (kind !== 'trade' || r.dataset.trade === id));
  // Reconnecting waits longer each time the stream ends without having worked, up to a minute:
  // a site or API that is down is not asked again every few seconds by every open page.
  let delay = 3000;
  const open = () => {
    const source = new EventSource('/live');
    // Changes from before the stream was connected come with one reload.
    source.addEventListener('ready', () => {
      delay = 3000;
      document.documentElement.dataset.live = 'ready';
      refresh();
    });
    source.addEventListener('trade', (e) => { if (shows('trade', e.data)) refresh(); });
    source.addEventListener('wallet', () => { if (shows('wallet')) refresh(); });
    source.addEventListener('any', () => refresh());
    // The server's upstream ended: a new connection opens a new one.
    source.addEventListener('closed', () => {
      delete document.documentElement.dataset.live;
      source.close();
      setTimeout(open, delay);
      delay = Math.min(delay * 2, 60000);
    });
    // The browser retries a dropped connection by itself; a refusal (signed out) ends it.
    source.addEventListener('error', () => {
      if (source.readyState === EventSource.CLOSED) delete document.documentElement.dataset.live;
    });
  };
  open();
}
