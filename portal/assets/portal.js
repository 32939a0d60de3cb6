// Every page: the menu, tabs, copy buttons, search, the account corner, and on the home page
// the onboarding (sign up or log in → a sandbox key → the playground).

import { call, createSandboxKey, currentUser, describe, el, storage } from "./api.js";
import { initSearch } from "./search.js";

const root = document.body.dataset.root;

function initMenu() {
  const button = document.querySelector(".menu");
  const sidebar = document.getElementById("sidebar");
  button?.addEventListener("click", () => {
    const open = sidebar.classList.toggle("open");
    button.setAttribute("aria-expanded", String(open));
  });
}

/** WAI-ARIA tabs: click, or arrow keys to move between them. */
function initTabs() {
  for (const tabs of document.querySelectorAll("[data-tabs]")) {
    const list = [...tabs.querySelectorAll('[role="tab"]')];
    const select = (tab) => {
      for (const t of list) {
        const on = t === tab;
        t.setAttribute("aria-selected", String(on));
        t.tabIndex = on ? 0 : -1;
        document.getElementById(t.getAttribute("aria-controls")).hidden = !on;
      }
      tab.focus();
    };
    list.forEach((tab, i) => {
      tab.addEventListener("click", () => select(tab));
      tab.addEventListener("keydown", (e) => {
        const step = { ArrowRight: 1, ArrowLeft: -1 }[e.key];
        if (step) select(list[(i + step + list.length) % list.length]);
      });
    });
  }
}

/** Copies text to the clipboard; where that is refused, selects it for Ctrl+C instead. */
export async function copyText(text, button, node) {
  const label = button.textContent;
  try {
    await navigator.clipboard.writeText(text);
    button.textContent = "Copied";
  } catch {
    if (node) getSelection().selectAllChildren(node);
    button.textContent = "Press Ctrl+C";
  }
  setTimeout(() => (button.textContent = label), 2000);
}

function initCopy() {
  document.addEventListener("click", (e) => {
    const button = e.target.closest("button[data-copy]");
    if (!button) return;
    const node = document.getElementById(button.dataset.copy);
    copyText(node.textContent, button, node);
  });
}

async function initAccount() {
  const corner = document.getElementById("account-state");
  const user = await currentUser().catch(() => null);
  corner.replaceChildren();
  if (!user) {
    corner.append(el("a", { href: `${root}index.html#onboarding` }, "Sign up or log in"));
    return null;
  }
  const logout = el("button", { type: "button" }, "Log out");
  logout.addEventListener("click", async () => {
    await call("DELETE", "/v1/sessions/current").catch(() => {});
    storage.remove("session");
    storage.remove("key");
    location.href = `${root}index.html`;
  });
  corner.append(el("span", {}, user.user.email), logout);
  return user;
}

function showReady(orgName) {
  document.getElementById("onboarding").hidden = true;
  const ready = document.getElementById("ready");
  document.getElementById("ready-org").textContent = orgName;
  document.getElementById("ready-key").textContent = storage.get("key") || "";
  ready.hidden = false;
  document.getElementById("ready-title").focus();
}

function formValues(form) {
  return Object.fromEntries([...new FormData(form)].filter(([, v]) => v !== ""));
}

async function initOnboarding(user) {
  const signup = document.getElementById("signup-form");
  if (!signup) return;
  if (user) {
    if (!storage.get("key")) await createSandboxKey().catch(() => {});
    showReady(user.organizations[0]?.name ?? "");
    return;
  }
  const handle = (form, errorId, submit) =>
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const error = document.getElementById(errorId);
      error.textContent = "";
      const button = form.querySelector("button[type=submit]");
      button.disabled = true;
      try {
        await submit(formValues(form));
      } catch (err) {
        error.textContent = describe(err);
      } finally {
        button.disabled = false;
      }
    });
  handle(signup, "signup-error", async (values) => {
    const result = await call("POST", "/v1/users", { body: values });
    storage.set("session", "1");
    await createSandboxKey();
    showReady(result.organization.name);
    initAccount();
  });
  handle(document.getElementById("login-form"), "login-error", async (values) => {
    await call("POST", "/v1/sessions", { body: values });
    storage.set("session", "1");
    const me = await call("GET", "/v1/users/me");
    if (!storage.get("key")) await createSandboxKey();
    showReady(me.organizations[0]?.name ?? "");
    initAccount();
  });
}

initMenu();
initTabs();
initCopy();
initSearch(root);
initAccount().then(initOnboarding);
