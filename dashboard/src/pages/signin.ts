// The sign-in view: asks for an API token when the server answers 401, checks it with /auth/whoami, keeps it in
// sessionStorage (auth.ts). The token goes only into a password field and a request header, never into a URL.
import { h, clear } from '../dom';
import { api, ApiError } from '../api';
import { clearToken, setToken, type Identity } from '../auth';

export async function whoAmI(): Promise<Identity> {
  return api.get<Identity>('/auth/whoami');
}

/** Fills `root` with the sign-in form; `signedIn` runs once a token is accepted. */
export function renderSignIn(root: HTMLElement, message: string, signedIn: (who: Identity) => void): void {
  clear(root);
  const input = h('input', {
    id: 'signin-token',
    name: 'token',
    type: 'password',
    autocomplete: 'off',
    spellcheck: 'false',
    required: true,
    'aria-describedby': 'signin-help',
    'data-testid': 'signin-token',
  }) as HTMLInputElement;
  const status = h('p', { class: 'signin-status', role: 'alert', 'data-testid': 'signin-status' }, message);
  const button = h('button', { class: 'btn primary', type: 'submit', 'data-testid': 'signin-submit' }, 'Sign in');
  const form = h(
    'form',
    {
      class: 'signin-form',
      // No action and no GET: the token must never reach a URL or the browser history.
      onsubmit: async (ev: Event) => {
        ev.preventDefault();
        const token = input.value.trim();
        if (!token) return;
        button.disabled = true;
        status.textContent = 'Checking…';
        setToken(token);
        try {
          const who = await whoAmI();
          input.value = '';
          signedIn(who);
        } catch (e) {
          clearToken();
          status.textContent =
            e instanceof ApiError && e.status === 401 ? 'That token was not accepted (wrong, revoked or expired).' : `Sign-in failed: ${(e as Error).message}`;
        } finally {
          button.disabled = false;
        }
      },
    },
    h('label', { for: 'signin-token' }, 'API token'),
    input,
    h(
      'p',
      { id: 'signin-help', class: 'small muted' },
      'An admin creates researcher tokens with POST /researchers/{id}/tokens. The token stays in this tab only (session storage).',
    ),
    button,
    status,
  );
  root.append(h('div', { class: 'signin-card' }, h('h1', null, 'Sign in to meta_db'), form));
  input.focus();
}
