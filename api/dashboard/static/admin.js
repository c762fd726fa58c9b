// 系统管理页：只调用 /api/v1/admin/ 接口，页面本身不保存任何数据。
(() => {
  "use strict";
  const API = "/api/v1";
  const TOKEN_KEY = "linkage.admin.token";
  const $ = (id) => document.getElementById(id);
  const ROLE = { clerk: "经办人", leader: "负责人", supervisor: "督查", admin: "管理员", department: "部门" };
  const CHANNEL = { webhook: "Webhook", dingtalk: "钉钉机器人", wecom: "企业微信机器人", email: "邮件" };
  let pendingUser = null; // 等待修改密码的用户名和临时密码

  const token = () => sessionStorage.getItem(TOKEN_KEY);

  function text(tag, value) {
    const el = document.createElement(tag);
    el.textContent = value == null ? "" : String(value);
    return el;
  }

  function row(cells) {
    const tr = document.createElement("tr");
    for (const cell of cells) {
      const td = document.createElement("td");
      if (cell instanceof Node) td.appendChild(cell); else td.textContent = cell == null ? "" : String(cell);
      tr.appendChild(td);
    }
    return tr;
  }

  function button(label, onClick) {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = label;
    b.addEventListener("click", onClick);
    return b;
  }

  function when(iso) {
    return iso ? new Date(iso).toLocaleString("zh-CN", { hour12: false }) : "—";
  }

  function say(message, ok = true) {
    const el = $("message");
    el.textContent = message;
    el.className = `banner ${ok ? "ok" : "error"}`;
    el.hidden = false;
  }

  class Problem extends Error {}

  async function call(method, path, body, raw = false) {
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
      try { detail = (await r.json()).detail || detail; } catch (_) { /* 非 JSON */ }
      throw new Problem(detail);
    }
    if (raw === "blob") return r.blob();
    if (raw) return r.text();
    return r.status === 204 ? null : r.json();
  }

  async function act(work) {
    try { await work(); } catch (e) { say(e instanceof Problem ? e.message : String(e), false); }
  }

  function formBody(form) {
    const body = {};
    for (const [name, value] of new FormData(form).entries()) {
      if (value !== "") body[name] = value;
    }
    return body;
  }

  // ---- 登录 ----------------------------------------------------------------------------------

  async function signIn(event) {
    event.preventDefault();
    $("login-error").textContent = "";
    const username = $("username").value, password = $("password").value;
    const r = await fetch(`${API}/auth/token`, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ username, password }),
    });
    const body = await r.json();
    if (r.ok) {
      sessionStorage.setItem(TOKEN_KEY, body.access_token);
      return start();
    }
    if (body.type && body.type.endsWith("password-change-required")) {
      pendingUser = { username, password };
      $("login-form").hidden = true;
      $("change-form").hidden = false;
      return;
    }
    $("login-error").textContent = body.detail || "登录失败";
  }

  async function changePassword(event) {
    event.preventDefault();
    const r = await fetch(`${API}/auth/password`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ username: pendingUser.username, current_password: pendingUser.password,
        new_password: $("new-password").value }),
    });
    if (!r.ok) { $("change-error").textContent = (await r.json()).detail; return; }
    $("password").value = $("new-password").value;
    $("change-form").hidden = true;
    $("login-form").hidden = false;
    $("login-form").requestSubmit();
  }

  function signOut() {
    sessionStorage.removeItem(TOKEN_KEY);
    $("app-view").hidden = true;
    $("who").hidden = true;
    $("login-view").hidden = false;
  }

  // ---- 各页 ----------------------------------------------------------------------------------

  async function loadUsers() {
    const list = await call("GET", "/admin/users");
    const body = $("users-body");
    body.replaceChildren(...list.data.map((u) => row([
      u.username, u.display_name, ROLE[u.role] || u.role, u.unit_name || u.department_name,
      u.active ? (u.locked ? "已锁定" : "正常") : "已停用",
      actionsFor(u),
    ])));
  }

  function actionsFor(u) {
    const span = document.createElement("span");
    span.appendChild(button(u.active ? "停用" : "启用", () => act(async () => {
      await call("PATCH", `/admin/users/${encodeURIComponent(u.username)}`, { disabled: u.active });
      say(`${u.username} 已${u.active ? "停用" : "启用"}`);
      await loadUsers();
    })));
    span.appendChild(button("重置密码", () => act(async () => {
      const r = await call("POST", `/admin/users/${encodeURIComponent(u.username)}/password-reset`);
      say(`${u.username} 的临时密码：${r.temporary_password}（只显示这一次，首次登录须修改）`);
      await loadUsers();
    })));
    return span;
  }

  async function createUser(event) {
    event.preventDefault();
    await act(async () => {
      const u = await call("POST", "/admin/users", formBody(event.target));
      say(u.temporary_password
        ? `已新建 ${u.username}，临时密码：${u.temporary_password}（只显示这一次）`
        : `已新建 ${u.username}（${u.role_label}，${u.unit_name || u.department_name}）`);
      event.target.reset();
      await loadUsers();
    });
  }

  async function loadKeys() {
    const list = await call("GET", "/admin/api-keys");
    $("keys-body").replaceChildren(...list.data.map((k) => row([
      k.prefix, k.department_name, k.name, when(k.created_at), when(k.last_used_at),
      k.revoked_at ? `已吊销 ${when(k.revoked_at)}` : "有效",
      k.revoked_at ? "" : button("吊销", () => act(async () => {
        await call("DELETE", `/admin/api-keys/${k.prefix}`);
        say(`API Key ${k.prefix} 已吊销`);
        await loadKeys();
      })),
    ])));
  }

  async function createKey(event) {
    event.preventDefault();
    await act(async () => {
      const k = await call("POST", "/admin/api-keys", formBody(event.target));
      const shown = $("key-shown");
      shown.textContent = `新 API Key（只显示这一次，请立即交给部门保存）：${k.key}`;
      shown.hidden = false;
      event.target.reset();
      await loadKeys();
    });
  }

  async function loadChannels() {
    const list = await call("GET", "/admin/channels");
    $("channels-body").replaceChildren(...list.data.map((t) => {
      const result = text("span", "");
      result.className = "test-result";
      return row([
        t.owner_name, CHANNEL[t.channel] || t.channel, text("pre", JSON.stringify(t.config)),
        t.has_secret ? "已设置" : "—",
        button("发送测试消息", () => act(async () => {
          result.textContent = "发送中…";
          const r = await call("POST", `/admin/channels/${t.id}/test`);
          result.textContent = r.ok ? `送达（${r.status_code}）${r.detail}` : `失败（${r.status_code || "无应答"}）${r.detail}`;
        })),
        result,
      ]);
    }));
  }

  async function setChannel(event) {
    event.preventDefault();
    await act(async () => {
      const body = formBody(event.target);
      if (body.to) body.to = body.to.split(/[,，\s]+/).filter(Boolean);
      if (body.smtp_port) body.smtp_port = Number(body.smtp_port);
      const t = await call("POST", "/admin/channels", body);
      say(`已保存 ${t.owner_name} 的${CHANNEL[t.channel]}`);
      await loadChannels();
    });
  }

  async function addHouseholds(event) {
    event.preventDefault();
    await act(async () => {
      const body = formBody(event.target);
      const r = await call("POST", "/admin/households", { village: body.village, count: Number(body.count) });
      $("households-summary").textContent = `${r.village_name}：新增 ${r.added} 户，共 ${r.count} 户`;
    });
  }

  async function printHouseholds() {
    await act(async () => {
      const village = new FormData($("household-form")).get("village");
      const html = await call("GET", `/admin/households/sheet?village=${encodeURIComponent(village)}`, undefined, true);
      const url = URL.createObjectURL(new Blob([html], { type: "text/html" }));
      window.open(url, "_blank");
    });
  }

  // The same sheet as an A4 PDF (Chinese font in the file): for printers that ignore the page's CSS.
  async function householdsPdf() {
    await act(async () => {
      const village = new FormData($("household-form")).get("village");
      const pdf = await call("GET", `/admin/households/sheet.pdf?village=${encodeURIComponent(village)}`, undefined, "blob");
      window.open(URL.createObjectURL(pdf), "_blank");
    });
  }

  function brief(values) {
    return values ? JSON.stringify(values) : "—";
  }

  async function loadAudit() {
    const list = await call("GET", "/admin/audit");
    $("audit-body").replaceChildren(...list.data.map((a) => row([
      when(a.at), a.actor, a.action, a.target, text("pre", brief(a.before)), text("pre", brief(a.after)),
    ])));
  }

  const LOADERS = { users: loadUsers, keys: loadKeys, channels: loadChannels, households: async () => {}, audit: loadAudit };

  function show(tab) {
    for (const b of document.querySelectorAll(".tabs button")) b.classList.toggle("active", b.dataset.tab === tab);
    for (const s of document.querySelectorAll(".tab")) s.hidden = s.id !== `tab-${tab}`;
    $("message").hidden = true;
    act(LOADERS[tab]);
  }

  async function start() {
    if (!token()) { signOut(); return; }
    let me;
    try { me = await call("GET", "/auth/me"); } catch (_) { return; }
    if (me.role !== "admin") {
      signOut();
      $("login-error").textContent = "仅系统管理员可以使用管理页面";
      return;
    }
    $("who-name").textContent = `${me.display_name || me.username}（${me.unit ? me.unit.name : "全部"}）`;
    $("who").hidden = false;
    $("login-view").hidden = true;
    $("app-view").hidden = false;
    show("users");
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("login-form").addEventListener("submit", (e) => act(() => signIn(e)));
    $("change-form").addEventListener("submit", (e) => act(() => changePassword(e)));
    $("logout").addEventListener("click", signOut);
    $("user-form").addEventListener("submit", createUser);
    $("key-form").addEventListener("submit", createKey);
    $("channel-form").addEventListener("submit", setChannel);
    $("household-form").addEventListener("submit", addHouseholds);
    $("household-print").addEventListener("click", printHouseholds);
    $("household-pdf").addEventListener("click", householdsPdf);
    for (const b of document.querySelectorAll(".tabs button")) b.addEventListener("click", () => show(b.dataset.tab));
    start();
  });
})();
