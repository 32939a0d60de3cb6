// Client-side search over the prebuilt index (search-index.json): every word typed must
// appear in an entry's title or text. Arrow keys move through the results, Enter opens one.

const MAX_RESULTS = 12;

export function initSearch(root) {
  const input = document.getElementById("search-input");
  const list = document.getElementById("search-results");
  if (!input) return;
  let entries = null;
  let active = -1;

  // One fetch, however many keystrokes wait for it.
  const load = () => {
    entries ??= fetch(`${root}search-index.json`)
      .then((res) => res.json())
      .then((index) => index.entries.map((e) => ({ ...e, haystack: `${e.title} ${e.text} ${e.kind}`.toLowerCase() })));
    return entries;
  };

  const links = () => [...list.querySelectorAll("a")];
  const highlight = (i) => {
    const all = links();
    active = (i + all.length) % all.length;
    all.forEach((a, j) => a.setAttribute("aria-selected", String(j === active)));
    input.setAttribute("aria-activedescendant", all[active]?.id ?? "");
  };

  const render = async () => {
    const query = input.value;
    const words = query.toLowerCase().split(/\s+/).filter(Boolean);
    const all = words.length ? await load() : [];
    // A later keystroke has rendered (or will render) its own results.
    if (input.value !== query) return;
    list.replaceChildren();
    active = -1;
    if (!words.length) {
      list.hidden = true;
      input.setAttribute("aria-expanded", "false");
      return;
    }
    const hits = all.filter((e) => words.every((w) => e.haystack.includes(w))).slice(0, MAX_RESULTS);
    hits.forEach((hit, i) => {
      const a = document.createElement("a");
      a.href = root + hit.url;
      a.id = `search-hit-${i}`;
      a.setAttribute("role", "option");
      a.textContent = hit.title;
      const kind = document.createElement("small");
      kind.textContent = hit.kind;
      a.append(kind);
      const li = document.createElement("li");
      li.append(a);
      list.append(li);
    });
    if (!hits.length) {
      const li = document.createElement("li");
      li.textContent = "No results";
      li.className = "help";
      list.append(li);
    }
    list.hidden = false;
    input.setAttribute("aria-expanded", "true");
  };

  input.addEventListener("input", render);
  input.addEventListener("keydown", (e) => {
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      highlight(active + (e.key === "ArrowDown" ? 1 : -1));
    } else if (e.key === "Enter" && active >= 0) {
      e.preventDefault();
      links()[active].click();
    } else if (e.key === "Escape") {
      input.value = "";
      render();
    }
  });
  document.addEventListener("keydown", (e) => {
    if (e.key === "/" && !["INPUT", "TEXTAREA"].includes(document.activeElement?.tagName)) {
      e.preventDefault();
      input.focus();
    }
  });
}
