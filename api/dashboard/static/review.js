// 无效复核与村民议题: reads /api/v1 with the dashboard's token; the API decides who may see and do what.
// Supervisors and the leaders above review invalid marks here; a village's staff read their villagers' topics.
"use strict";

(() => {
  const API = "/api/v1";
  const TOKEN_KEY = "linkage.token"; // the dashboard's: one sign-in serves both pages
  const ZONE = "Asia/Shanghai";
  const REVIEWERS = new Set(["supervisor", "leader"]);
  const $ = (id) => document.getElementById(id);
  const token = () => sessionStorage.getItem(TOKEN_KEY);
  let me = null;

  class Problem extends Error {}

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") node.className = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : value);
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  const STAMP = new Intl.DateTimeFormat("zh-CN", {
    timeZone: ZONE, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
  });
  const when = (iso) => (iso ? STAMP.format(new Date(iso)) : "—");

  function say(text, ok = true) {
    const box = $("message");
    box.textContent = text;
    box.className = ok ? "message" : "message error";
  }

  async function call(method, path, body) {
    const headers = { Accept: "application/json", Authorization: `Bearer ${token()}` };
    const init = { method, headers };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const r = await fetch(`${API}${path}`, init);
    if (r.status === 401) { signOut(); throw new Problem("登录已失效，请重新登录"); }
    if (!r.ok) {
      let detail = `请求失败（${r.status}）`;
      try { detail = (await r.json()).detail || detail; } catch (_) { /* not JSON */ }
      throw new Problem(detail);
    }
    return r.json();
  }

  async function act(work) {
    try { await work(); } catch (e) { say(e instanceof Problem ? e.message : String(e), false); }
  }

  function fill(table, rows, columns, emptyText) {
    const empty = el("tr", { class: "empty" }, el("td", { colspan: columns }, emptyText));
    table.tBodies[0].replaceChildren(...(rows.length ? rows : [empty]));
  }

  // ---- invalid marks ---------------------------------------------------------------------------

  function open(issue) {
    const until = issue.invalid && issue.invalid.review_until;
    return !issue.closed_at && until && new Date(until) > new Date();
  }

  function reviewCell(issue) {
    if (!open(issue)) return el("td", { class: "done" }, "已确认（无效）");
    if (!me || !REVIEWERS.has(me.role)) return el("td", { class: "done" }, "待督查复核");
    const note = el("input", { "aria-label": `复核意见：${issue.title}`, placeholder: "复核意见（可选）" });
    const cell = el("td");
    const decide = (overturn) => act(async () => {
      const body = { overturn, note: note.value.trim() || null };
      const r = await call("POST", `/issues/${encodeURIComponent(issue.id)}/invalid/review`, body);
      const done = overturn ? `已撤销，恢复办理（${r.status_label}）` : "已确认（无效）";
      cell.replaceChildren(el("span", { class: "done" }, done));
      say(overturn ? `已撤销「${issue.title}」的无效标记，事项恢复办理` : `已确认「${issue.title}」的无效标记`);
    });
    cell.append(el("div", { class: "review" },
      note,
      el("button", { type: "button", class: "overturn", onclick: () => decide(true) }, "撤销标记"),
      el("button", { type: "button", class: "uphold", onclick: () => decide(false) }, "确认无效"),
    ));
    return cell;
  }

  function duplicateCell(mark) {
    if (!mark || !mark.duplicate_of) return el("td", {}, "—");
    const link = el("a", { href: `/dashboard/issues/${encodeURIComponent(mark.duplicate_of)}` },
      mark.duplicate_code || mark.duplicate_of);
    return el("td", {}, link);
  }

  async function loadInvalid() {
    const page = await call("GET", "/issues?status=invalid&limit=200");
    const rows = page.data.map((issue) => {
      const mark = issue.invalid || {};
      return el("tr", { "data-issue-id": issue.id },
        el("td", {}, when(mark.at)),
        el("td", {}, issue.tracking_code),
        el("td", {}, el("a", { href: `/dashboard/issues/${encodeURIComponent(issue.id)}` }, issue.title)),
        el("td", {}, issue.unit.name),
        el("td", {}, mark.kind_label || "—"),
        el("td", {}, mark.reason || "—"),
        duplicateCell(issue.invalid),
        el("td", {}, when(mark.review_until)),
        reviewCell(issue),
      );
    });
    fill($("invalid-table"), rows, 9, "没有标记为无效的事项");
  }

  // ---- villagers' topics -----------------------------------------------------------------------

  async function loadTopics(village) {
    const topics = await call("GET", `/topics?village=${encodeURIComponent(village)}`);
    const rows = topics.map((t) => el("tr", { "data-topic-id": String(t.id) },
      el("td", {}, when(t.proposed_at)),
      el("td", {}, t.title),
      el("td", {}, t.description || "—"),
      el("td", {}, t.phone || "—"),
      el("td", {}, t.taken_up_by ? "已列入议事" : "待议"),
    ));
    fill($("topics-table"), rows, 5, "本村暂无村民提议的议题");
  }

  // ---- sign-in ---------------------------------------------------------------------------------

  function signOut() {
    sessionStorage.removeItem(TOKEN_KEY);
    me = null;
    $("app-view").hidden = true;
    $("who").hidden = true;
    $("login-view").hidden = false;
  }

  async function signIn(event) {
    event.preventDefault();
    const form = new URLSearchParams({ username: $("username").value, password: $("password").value });
    const r = await fetch(`${API}/auth/token`, { method: "POST", body: form });
    if (!r.ok) {
      let detail = "用户名或密码错误";
      try { detail = (await r.json()).detail || detail; } catch (_) { /* not JSON */ }
      $("login-error").textContent = detail;
      return;
    }
    sessionStorage.setItem(TOKEN_KEY, (await r.json()).access_token);
    $("login-error").textContent = "";
    await start();
  }

  async function start() {
    await act(async () => {
      me = await call("GET", "/auth/me");
      $("who-name").textContent = `${me.display_name || me.username}（${me.role_label}${me.unit ? " · " + me.unit.name : ""}）`;
      $("login-view").hidden = true;
      $("who").hidden = false;
      $("app-view").hidden = false;
      await loadInvalid();
      // A village's own staff see their village's topics at once; others pick a village.
      if (me.unit && me.unit.code.length === 12) {
        $("topics-village").value = me.unit.code;
        await loadTopics(me.unit.code);
      }
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("login-form").addEventListener("submit", signIn);
    $("logout").addEventListener("click", signOut);
    $("topics-form").addEventListener("submit", (event) => {
      event.preventDefault();
      act(() => loadTopics($("topics-village").value.trim()));
    });
    if (token()) start(); else signOut();
  });
})();
