import type { Route } from '../routes.js';

/** What the app shows for a route; `update` takes a route change in place when it can (wall ↔ camera). */
export interface View {
  el: HTMLElement;
  update?(route: Route): boolean;
  destroy(): void;
}
