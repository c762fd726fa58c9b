// The phone pages: plain script, no framework, no CDN. Each page is picked by <body data-page>.
"use strict";
const API = "/api/v1";
const $ = (id) => document.getElementById(id);
const TZ = { timeZone: "Asia/Shanghai", dateStyle: "medium", timeStyle: "short" };
const when = (iso) => (iso ? new Date(iso).toLocaleString("zh-CN", TZ) : "");
const newKey = () =>
  crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random().toString(16).slice(2);

async function call(path, body, headers = {}) {
  const res = await fetch(API + path, {
    method: "POST",
    headers: { "Content-Type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
  const data = await res.json().catch(() => ({}));
  if (!res.ok) {
    const err = new Error(data.detail || `请求失败（${res.status}）`);
    err.status = res.status;
    // What a villager reads: the field's own message, without the API's "字段 x：" prefix.
    err.reason = (data.errors && data.errors[0] && data.errors[0].message) || err.message;
    throw err;
  }
  return data;
}

function formData(form) {
  const out = {};
  for (const [k, v] of new FormData(form).entries()) if (String(v).trim() !== "") out[k] = String(v).trim();
  return out;
}

// ---- places: township → village, categories (kept for use without a signal) -------------------

async function places() {
  try {
    const res = await fetch(API + "/public/places");
    if (!res.ok) throw new Error(String(res.status));
    const data = await res.json();
    localStorage.setItem("linkage-places", JSON.stringify(data));
    return data;
  } catch (e) {
    const kept = localStorage.getItem("linkage-places");
    if (kept) return JSON.parse(kept);
    throw e;
  }
}

function option(select, code, name) {
  const o = document.createElement("option");
  o.value = code;
  o.textContent = name;
  select.append(o);
}

async function setupPlaces(onVillage) {
  const data = await places();
  const township = $("township"), village = $("village");
  for (const t of data.townships) option(township, t.code, t.name);
  township.addEventListener("change", () => {
    village.replaceChildren();
    option(village, "", "请选择村（社区）");
    const t = data.townships.find((x) => x.code === township.value);
    for (const v of t ? t.villages : []) option(village, v.code, v.name);
  });
  if (onVillage) village.addEventListener("change", () => onVillage(village.value));
  for (const id of ["category", "field-category"]) {
    const select = $(id);
    if (select) for (const c of data.categories) option(select, c.code, c.name);
  }
}

// ---- report --------------------------------------------------------------------------------

function report() {
  setupPlaces();
  const form = $("report-form");
  let key = null; // one key per report: a retry after a lost answer registers nothing twice
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    $("report-error").textContent = "";
    const f = formData(form);
    const body = {
      village_code: f.village_code, category: f.category, description: f.description,
      location: f.location, phone: f.phone, name: f.name,
      attachments: (f.attachments || "").split(/\s+/).filter(Boolean),
    };
    key = key || newKey();
    try {
      const done = await call("/public/issues", body, { "Idempotency-Key": key });
      key = null;
      form.hidden = true;
      $("tracking-code").textContent = done.tracking_code;
      $("pin").textContent = done.pin;
      $("report-done").hidden = false;
      $("report-done").focus();
    } catch (e) {
      $("report-error").textContent = e.message;
    }
  });
}

// ---- track, feedback, withdraw -----------------------------------------------------------

function track() {
  const form = $("track-form");
  let creds = null, issue = null;
  const params = new URLSearchParams(location.search);
  if (params.get("code")) $("code").value = params.get("code");

  function show(d) {
    issue = d;
    $("issue").hidden = false;
    $("issue-status").textContent = `当前状态：${d.status_label}`;
    $("issue-where").textContent = `正在办理的单位：${d.unit.name}`;
    $("issue-deadline").textContent = d.deadline ? `办理期限：${when(d.deadline)}` : "";
    const inv = $("issue-invalid");
    inv.hidden = !d.invalid;
    if (d.invalid) {
      const dup = d.invalid.duplicate_code ? `，与查询码 ${d.invalid.duplicate_code} 的问题重复，将随该问题一并办理` : "";
      inv.textContent = `您反映的问题被认定为无效（${d.invalid.kind_label}${dup}）。理由：${d.invalid.reason}`;
    }
    const list = $("timeline");
    list.replaceChildren();
    // A level's entry says where the issue went; its reason is a code word, not for people.
    const unitNames = Object.fromEntries((d.levels || []).map((l) => [l.unit, l.unit_name]));
    for (const e of d.events) {
      const li = document.createElement("li");
      const extra =
        e.type === "level_entered"
          ? unitNames[e.unit] || ""
          : e.data.summary || e.data.note || e.data.reason || "";
      li.textContent = `${when(e.at)} ${e.label}${extra ? "：" + extra : ""}`;
      list.append(li);
    }
    $("feedback-form").hidden = d.status !== "awaiting_feedback";
    $("withdraw-form").hidden = !["pending_accept", "in_progress"].includes(d.status);
  }

  async function load() {
    show(await call("/issues/track", creds));
  }

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    $("track-error").textContent = "";
    const f = formData(form);
    creds = { tracking_code: f.tracking_code, pin: f.pin };
    try {
      await load();
    } catch (e) {
      $("issue").hidden = true;
      $("track-error").textContent = e.message;
    }
  });

  async function act(action, body, done) {
    try {
      await call(`/issues/${issue.id}/${action}`, { ...creds, ...body }, { "Idempotency-Key": newKey() });
      $("action-result").textContent = done;
      await load();
    } catch (e) {
      $("action-result").textContent = e.message;
    }
  }

  $("feedback-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const f = formData(ev.target);
    act("feedback", { solved: f.solved === "true", satisfaction: f.satisfaction, comment: f.comment }, "感谢您的评价");
  });
  $("withdraw-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    act("withdraw", { reason: formData(ev.target).reason }, "已撤回");
  });
}

// ---- topic and poll ------------------------------------------------------------------------

function topic() {
  setupPlaces();
  const form = $("topic-form");
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = formData(form);
    try {
      await call("/public/topics", { village_code: f.village_code, title: f.title, description: f.description || "", phone: f.phone },
        { "Idempotency-Key": newKey() });
      form.reset();
      $("topic-result").textContent = "议题已提交，村里会在议事会前整理。";
    } catch (e) {
      $("topic-result").textContent = e.message;
    }
  });
}

function poll() {
  setupPlaces(async (village) => {
    const box = $("polls");
    box.replaceChildren();
    const res = await fetch(`${API}/public/units/${encodeURIComponent(village)}/polls`);
    const polls = res.ok ? await res.json() : [];
    if (!polls.length) box.textContent = "本村目前没有进行中的投票。";
    polls.forEach((p, i) => {
      const form = document.createElement("form");
      form.className = "box";
      const set = document.createElement("fieldset");
      const legend = document.createElement("legend");
      legend.textContent = p.topic;
      set.append(legend);
      for (const o of p.options) {
        const label = document.createElement("label");
        label.className = "choice";
        const input = Object.assign(document.createElement("input"), { type: "radio", name: "option", value: o, required: true });
        label.append(input, o);
        set.append(label);
      }
      const hl = Object.assign(document.createElement("label"), { htmlFor: `household-${i}`, textContent: "户码" });
      const hi = Object.assign(document.createElement("input"), { id: `household-${i}`, name: "household", required: true, autocomplete: "off" });
      const btn = Object.assign(document.createElement("button"), { type: "submit", textContent: "投票" });
      form.append(set, hl, hi, btn);
      form.addEventListener("submit", async (ev) => {
        ev.preventDefault();
        const f = formData(form);
        try {
          await call(`/public/deliberations/${p.id}/ballot`, f, { "Idempotency-Key": newKey() });
          $("poll-result").textContent = `已投票：${f.option}`;
          form.hidden = true;
        } catch (e) {
          $("poll-result").textContent = e.reason || e.message;
        }
      });
      box.append(form);
    });
  });
}

const pages = { report, track, topic, poll, field: () => window.fieldPage && window.fieldPage() };
document.addEventListener("DOMContentLoaded", () => {
  const run = pages[document.body.dataset.page];
  if (run) run();
  if ("serviceWorker" in navigator) navigator.serviceWorker.register("/m/sw.js", { scope: "/m/" }).catch(() => {});
});
