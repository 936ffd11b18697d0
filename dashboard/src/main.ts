import './style.css';
import { h, clear } from './dom';
import { setNavigate } from './ui';
import { api, onUnauthorized } from './api';
import { clearToken, describeIdentity, getToken, type Identity } from './auth';
import { renderSignIn, whoAmI } from './pages/signin';
import { router } from './router';
// Each page module registers its routes when imported (the order is the match order).
import './pages/overview';
import './pages/lists';
import './pages/detail';
import './pages/query';
import './pages/fields';
import './pages/manage';
import './pages/errors';
import './pages/jobs';
import './pages/collection';
import './pages/nodules';

/** Kept for pages written against the old location; new pages import it from './router'. */
export type { PageCtx } from './router';

const NAV: [string, string, string, string][] = [
  // [nav key, href, label, shortcut after "g"]
  ['overview', '/ui/', 'Overview', 'o'],
  ['studies', '/ui/studies', 'Studies', 's'],
  ['series', '/ui/series', 'Series', 'e'],
  ['query', '/ui/query', 'Query builder', 'q'],
  ['fields', '/ui/fields', 'Fields', 'f'],
  ['collections', '/ui/collections', 'Collections', 'c'],
  ['researchers', '/ui/researchers', 'Researchers', 'r'],
  ['jobs', '/ui/jobs', 'Jobs', 'j'],
  ['errors', '/ui/errors', 'Ingest errors', 'x'],
];

const app = document.getElementById('app')!;
const main = h('main', { id: 'main', tabindex: -1 });
const navLinks = new Map<string, HTMLAnchorElement>();
const health = h('div', { class: 'health', 'aria-live': 'polite' }, '');
const identity = h('div', { class: 'identity small', 'data-testid': 'identity' }, '');
// The sign-in replaces the whole shell while shown, so late answers of the pages underneath stay out of sight.
const signIn = h('section', { class: 'signin', hidden: true, 'aria-label': 'Sign in', 'data-testid': 'signin' });
let shell: HTMLElement | null = null;

function layout() {
  const nav = h(
    'nav',
    { class: 'sidebar', 'aria-label': 'Main' },
    h('a', { class: 'brand', href: '/ui/', 'data-link': '' }, h('span', { class: 'logo', 'aria-hidden': 'true' }, 'm'), h('span', null, 'meta_db')),
    h(
      'ul',
      null,
      NAV.map(([key, href, label, sc]) => {
        const a = h('a', { href, 'data-link': '', 'data-nav': key, title: `${label} (g ${sc})` }, label);
        navLinks.set(key, a);
        return h('li', null, a);
      }),
    ),
    h(
      'div',
      { class: 'side-foot' },
      health,
      identity,
      h('a', { href: '/docs', class: 'small' }, 'API docs ↗'),
      h('p', { class: 'small muted kbd-help' }, h('kbd', null, '/'), ' search · ', h('kbd', null, 'g'), ' ', h('kbd', null, 's'), ' studies · ', h('kbd', null, 'n'), '/', h('kbd', null, 'p'), ' page · ', h('kbd', null, '?'), ' help'),
    ),
  );
  shell = h('div', { class: 'shell' }, nav, main);
  app.append(shell, signIn);
}

function showIdentity(who: Identity) {
  clear(identity);
  identity.append(h('span', null, who.role === 'local' ? 'Local user (no token needed)' : `Signed in: ${describeIdentity(who)}`));
  if (getToken()) {
    identity.append(
      ' ',
      h(
        'button',
        { class: 'btn small', type: 'button', 'data-testid': 'signout', onclick: () => { clearToken(); showSignIn('Signed out.'); } },
        'Sign out',
      ),
    );
  }
}

function showSignIn(message: string) {
  if (!signIn.hidden) return; // already asking (several requests may fail at once)
  current?.abort();
  if (shell) shell.hidden = true;
  signIn.hidden = false;
  renderSignIn(signIn, message, (who) => {
    signIn.hidden = true;
    clear(signIn);
    if (shell) shell.hidden = false;
    showIdentity(who);
    void render();
  });
}
onUnauthorized(() => showSignIn(getToken() ? 'The server no longer accepts this token: sign in again.' : 'This server needs an API token.'));

let current: AbortController | null = null;

async function render() {
  current?.abort();
  const ctl = new AbortController();
  current = ctl;
  const path = location.pathname;
  const hit = router.match(path);
  const r = hit?.route;
  for (const [k, a] of navLinks) {
    if (r && r.nav === k) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  clear(main);
  if (!hit || !r) {
    document.title = 'Not found · meta_db';
    main.append(h('header', { class: 'page-header' }, h('h1', null, 'Page not found')), h('p', null, 'No page at ', h('code', null, path), '. ', h('a', { href: '/ui/', 'data-link': '' }, 'Go to the overview')));
    return;
  }
  document.title = `${r.title} · meta_db`;
  try {
    await r.render({ main, params: hit.params, search: location.search, signal: ctl.signal });
  } catch (e) {
    if ((e as Error)?.name !== 'AbortError') console.error(e);
  }
}

export function navigate(href: string, replace = false) {
  const url = new URL(href, location.href);
  if (url.origin !== location.origin) {
    location.href = href;
    return;
  }
  if (replace) history.replaceState(null, '', url.pathname + url.search + url.hash);
  else history.pushState(null, '', url.pathname + url.search + url.hash);
  void render().then(() => {
    if (!replace) {
      window.scrollTo(0, 0);
      main.focus({ preventScroll: true });
    }
  });
}
setNavigate(navigate);

document.addEventListener('click', (ev) => {
  if (ev.defaultPrevented || ev.button !== 0 || ev.ctrlKey || ev.metaKey || ev.shiftKey || ev.altKey) return;
  const a = (ev.target as Element).closest?.('a[data-link]') as HTMLAnchorElement | null;
  if (!a || a.target === '_blank') return;
  ev.preventDefault();
  navigate(a.getAttribute('href')!);
});
window.addEventListener('popstate', () => void render());

// Keyboard: "/" focuses the page's search box, "g x" jumps to a page, n/p page through lists.
let gPending = 0;
document.addEventListener('keydown', (ev) => {
  const t = ev.target as HTMLElement;
  if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
  if (t.closest('input,textarea,select,[contenteditable]')) {
    if (ev.key === 'Escape') (t as HTMLElement).blur();
    return;
  }
  if (ev.key === '/') {
    const visible = (el: HTMLElement) => el.offsetParent !== null;
    const box = [...main.querySelectorAll<HTMLElement>('[data-search]')].find(visible) ?? [...main.querySelectorAll<HTMLElement>('input,textarea,select')].find(visible);
    if (box) {
      ev.preventDefault();
      box.focus();
    }
    return;
  }
  if (ev.key === '?') {
    showHelp();
    return;
  }
  if (ev.key === 'g') {
    gPending = Date.now();
    return;
  }
  if (gPending && Date.now() - gPending < 1500) {
    gPending = 0;
    const hit = NAV.find((n) => n[3] === ev.key);
    if (hit) navigate(hit[1]);
    return;
  }
  if (ev.key === 'n' || ev.key === 'p') {
    main.querySelector<HTMLButtonElement>(ev.key === 'n' ? '[data-page="next"]' : '[data-page="prev"]')?.click();
  }
});

let helpDialog: HTMLDialogElement | null = null;
function showHelp() {
  if (!helpDialog) {
    const row = (keys: (string | Node)[], what: string) => h('tr', null, h('td', null, keys), h('td', null, what));
    const k = (s: string) => h('kbd', null, s);
    helpDialog = h(
      'dialog',
      { class: 'help', 'aria-labelledby': 'help-title' },
      h('h2', { id: 'help-title' }, 'Keyboard shortcuts'),
      h(
        'table',
        null,
        h(
          'tbody',
          null,
          row([k('/')], 'Focus the search / first field'),
          row([k('n'), ' ', k('p')], 'Next / previous page'),
          row([k('↑'), ' ', k('↓'), ' or ', k('j'), ' ', k('k')], 'Move between table rows'),
          row([k('Enter')], 'Open the focused row'),
          row([k('Ctrl'), '+', k('Enter')], 'Run the query (query builder)'),
          row([k('Esc')], 'Leave a text field / close this'),
          NAV.map(([, , label, sc]) => row([k('g'), ' ', k(sc)], `Go to ${label}`)),
        ),
      ),
      h('form', { method: 'dialog' }, h('button', { class: 'btn', type: 'submit' }, 'Close')),
    ) as HTMLDialogElement;
    document.body.append(helpDialog);
  }
  helpDialog.showModal();
}

layout();
// Who am I? A 401 here opens the sign-in (through onUnauthorized) before any page is drawn.
whoAmI()
  .then((who) => {
    showIdentity(who);
    void render();
  })
  .catch((e) => {
    if ((e as { status?: number })?.status !== 401) void render(); // an older server without /auth/whoami
  });
api
  .get<Record<string, unknown>>('/health')
  .then((hh) => {
    health.textContent = `● ${String(hh.status ?? 'ok')} · ${String(hh.db ?? '')} ${hh.version ? 'v' + String(hh.version) : ''}`.trim();
    health.classList.add('ok');
  })
  .catch(() => {
    health.textContent = '● API unreachable';
    health.classList.add('bad');
  });
