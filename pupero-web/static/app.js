// Pupero: what JavaScript adds to pages that work without it. Countdowns tick from the seconds
// the server computed (a client's clock is never trusted), copy buttons appear, and times are
// shown in the reader's own time zone as well as in UTC.

const countdowns = [...document.querySelectorAll('[data-countdown]')];
if (countdowns.length) {
  const started = performance.now();
  const tick = () => {
    const elapsed = Math.floor((performance.now() - started) / 1000);
    for (const el of countdowns) {
      const left = Math.max(0, Number(el.dataset.countdown) - elapsed);
      const h = Math.floor(left / 3600), m = Math.floor((left % 3600) / 60), s = left % 60;
      const two = (n) => String(n).padStart(2, '0');
      el.textContent = h > 0 ? `${h}:${two(m)}:${two(s)}` : `${m}:${two(s)}`;
    }
  };
  setInterval(tick, 1000);
}

for (const button of document.querySelectorAll('button[data-copy]')) {
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

const lang = document.documentElement.lang || undefined;
for (const el of document.querySelectorAll('time[datetime]')) {
  const when = new Date(el.getAttribute('datetime'));
  if (Number.isNaN(when.getTime())) continue;
  el.title = el.textContent;
  el.textContent = when.toLocaleString(lang, { dateStyle: 'medium', timeStyle: 'short' });
}
