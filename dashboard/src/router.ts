// Client-side router: pages register a path pattern and a render function; main.ts only boots the shell.
// Pages import this module (never main.ts), so there is no main.ts <-> pages/* import cycle.

export interface PageCtx {
  main: HTMLElement;
  params: Record<string, string>;
  search: string;
  signal: AbortSignal;
}
export type Page = (ctx: PageCtx) => void | Promise<void>;

export interface PageDef {
  /** "/ui/series/:id" — ":name" segments become ctx.params.name */
  path: string;
  render: Page;
  /** the sidebar entry highlighted while the page is shown */
  nav: string;
  title: string;
}

interface Route extends PageDef {
  re: RegExp;
  keys: string[];
}

export interface Match {
  route: PageDef;
  params: Record<string, string>;
}

/** The route table; one per app (main.ts creates it, pages register into it). */
export class Router {
  private routes: Route[] = [];

  register(def: PageDef): void {
    const keys: string[] = [];
    const re = new RegExp('^' + def.path.replace(/:([a-z]+)/g, (_, k: string) => (keys.push(k), '([^/]+)')) + '/?$');
    this.routes.push({ ...def, re, keys });
  }

  match(pathname: string): Match | null {
    for (const r of this.routes) {
      const m = r.re.exec(pathname);
      if (!m) continue;
      const params: Record<string, string> = {};
      r.keys.forEach((k, i) => (params[k] = decodeURIComponent(m[i + 1]!)));
      return { route: r, params };
    }
    return null;
  }
}

export const router = new Router();
/** Called by each page module at load time. */
export const registerPage = (def: PageDef): void => router.register(def);
