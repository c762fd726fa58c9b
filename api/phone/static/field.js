// The field pages of grid workers and 片长: they work without a signal. Every registration and
// patrol entry goes into a queue in the phone's storage first, with its Idempotency-Key, and is
// sent from there whenever the network is back: a send whose answer was lost goes again under
// the same key, which the server applies once. Nothing is lost, nothing doubled.
"use strict";
const QUEUE = "linkage-field-queue";
const SENT = "linkage-field-sent";
const TOKEN = "linkage-field-token";

const load = (name) => JSON.parse(localStorage.getItem(name) || "[]");
const save = (name, items) => localStorage.setItem(name, JSON.stringify(items));
let sending = false;

function enqueue(kind, body) {
  const items = load(QUEUE);
  items.push({ kind, body, key: newKey(), at: new Date().toISOString() });
  save(QUEUE, items);
  showQueue();
  flush();
}

function showQueue() {
  const n = load(QUEUE).length;
  $("queue").textContent = n ? `待发送 ${n} 条（有网络时自动发送）` : "全部已发送";
  $("net").textContent = navigator.onLine ? "网络：在线" : "网络：离线，登记内容先保存在手机上";
  const list = $("sent");
  list.replaceChildren();
  for (const s of load(SENT).slice(-20).reverse()) {
    const li = document.createElement("li");
    li.textContent = s;
    list.append(li);
  }
}

async function flush() {
  if (sending || !localStorage.getItem(TOKEN)) return;
  sending = true;
  try {
    while (load(QUEUE).length) {
      const [item] = load(QUEUE);
      const path = item.kind === "issue" ? "/issues" : "/patrols";
      let res;
      try {
        res = await fetch(API + path, {
          method: "POST",
          headers: {
            "Content-Type": "application/json",
            Authorization: `Bearer ${localStorage.getItem(TOKEN)}`,
            "Idempotency-Key": item.key,
          },
          body: JSON.stringify(item.body),
        });
      } catch (e) {
        break; // no signal: the item stays, and goes when the network is back
      }
      if (res.status === 401) {
        localStorage.removeItem(TOKEN);
        signedIn();
        break;
      }
      if (res.status === 429 || res.status >= 500) break; // later, same key
      const data = await res.json().catch(() => ({}));
      const done = res.ok
        ? item.kind === "issue" ? `已登记：${item.body.title}（查询码 ${data.tracking_code}）` : `巡查日志：${item.body.place}`
        : `未能登记（${data.detail || res.status}）：${item.body.title || item.body.place}`;
      save(SENT, [...load(SENT), done]);
      save(QUEUE, load(QUEUE).filter((x) => x.key !== item.key));
      showQueue();
    }
  } finally {
    sending = false;
    showQueue();
  }
}

function signedIn() {
  const token = localStorage.getItem(TOKEN);
  $("login-form").hidden = Boolean(token);
  $("field").hidden = !token;
  $("who").textContent = localStorage.getItem("linkage-field-user") || "";
}

window.fieldPage = () => {
  signedIn();
  setupPlaces().catch(() => {});
  showQueue();
  window.addEventListener("online", flush);
  window.addEventListener("offline", showQueue);
  setInterval(flush, 15000);
  flush();

  $("login-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = formData(ev.target);
    const res = await fetch(API + "/auth/token", {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ username: f.username, password: f.password }),
    }).catch(() => null);
    if (!res || !res.ok) {
      $("login-error").textContent = res ? "用户名或密码不正确" : "没有网络，请有信号时登录一次";
      return;
    }
    localStorage.setItem(TOKEN, (await res.json()).access_token);
    localStorage.setItem("linkage-field-user", f.username);
    signedIn();
    flush();
  });
  $("logout").addEventListener("click", () => {
    localStorage.removeItem(TOKEN);
    signedIn();
  });
  $("field-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const f = formData(ev.target);
    enqueue("issue", {
      village_code: f.village_code, category: f.category, title: f.title,
      description: f.description, location: f.location, channel: "grid",
    });
    ev.target.reset();
  });
  $("patrol-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const f = formData(ev.target);
    const now = new Date().toISOString();
    enqueue("patrol", { started_at: now, recorded_at: now, place: f.place, note: f.note || "" });
    ev.target.reset();
  });
};
